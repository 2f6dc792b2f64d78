package browsertest

import (
	"context"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Console collects what a tab reports as wrong: uncaught exceptions,
// console.error calls and browser log errors (failed or blocked requests,
// CSP violations). Tests of whole pages assert it stays empty.
type Console struct {
	mu   sync.Mutex
	msgs []string
}

// WatchConsole starts collecting the errors of tab (a context from
// NewTab); call it before navigating.
func WatchConsole(tab context.Context) *Console {
	c := &Console{}
	chromedp.ListenTarget(tab, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type != runtime.APITypeError {
				return
			}
			var parts []string
			for _, a := range ev.Args {
				if a.Value != nil {
					parts = append(parts, string(a.Value))
				} else {
					parts = append(parts, a.Description)
				}
			}
			msg = "console.error: " + strings.Join(parts, " ")
		case *log.EventEntryAdded:
			if ev.Entry.Level != log.LevelError {
				return
			}
			msg = "browser: " + ev.Entry.Text
			if ev.Entry.URL != "" {
				msg += " (" + ev.Entry.URL + ")"
			}
		default:
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, msg)
		c.mu.Unlock()
	})
	return c
}

// Errors returns the errors collected so far.
func (c *Console) Errors() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// Reset forgets the errors collected so far, for a step that provokes
// some on purpose (a sign-in with a wrong token is a 401 the browser logs).
func (c *Console) Reset() {
	c.mu.Lock()
	c.msgs = nil
	c.mu.Unlock()
}
