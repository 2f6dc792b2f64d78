// Command hlsd packages audio and video into adaptive HLS and serves it.
//
//	hlsd serve  [flags]          run the server (library, API, delivery)
//	hlsd ingest [flags] INPUT    package one file into an HLS presentation
//	hlsd probe  INPUT            print what ffprobe sees in a file, as JSON
//
// Every flag can also be set with an HLSD_* environment variable
// (--cors-origins is HLSD_CORS_ORIGINS); a flag on the command line wins.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hlsd/hlsd"
)

// version is set at link time by release builds.
var version = "dev"

// Main is the program with its standard streams, so tests run it in-process.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv looks up HLSD_* variables; tests replace it to stay hermetic.
	Getenv func(string) string
	// IsTerminal reports whether Stdout is a terminal (progress bars only then).
	IsTerminal bool
	// Umask sets the process umask (syscall.Umask in the real program) and
	// returns the old one; serve applies --umask with it before creating
	// anything. Nil leaves the umask alone: tests run serve in-process.
	Umask func(mask int) int
}

// errUsage marks an error already explained by a usage message (exit 2).
var errUsage = errors.New("usage")

type command struct {
	name, summary string
	run           func(ctx context.Context, m *Main, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the HLS server: library API, delivery, web UI", runServe},
		{"ingest", "package an audio or video file into adaptive HLS", runIngest},
		{"probe", "print the container and streams of a media file as JSON", runProbe},
		{"version", "print the version", func(_ context.Context, m *Main, _ []string) error {
			fmt.Fprintln(m.Stdout, "hlsd", version)
			return nil
		}},
	}
}

func main() {
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, IsTerminal: isTerminal(os.Stdout), Umask: syscall.Umask}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := m.Run(ctx, os.Args[1:])
	stop()
	os.Exit(m.exitCode(err))
}

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		m.usage(m.Stderr)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, m, args[1:])
		}
	}
	fmt.Fprintf(m.Stderr, "hlsd: unknown command %q (try 'hlsd help')\n", args[0])
	return errUsage
}

func (m *Main) usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hlsd <command> [flags] [args]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'hlsd <command> -h' for a command's flags. Flags may also be set as HLSD_<FLAG> environment variables.")
}

// exitCode prints err as one line and returns the process exit code.
func (m *Main) exitCode(err error) int {
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(m.Stderr, "hlsd: interrupted")
		return 130
	}
	msg := hlsd.ErrorMessage(err)
	if hlsd.ErrorCode(err) == hlsd.EINTERNAL {
		msg = err.Error()
	}
	fmt.Fprintln(m.Stderr, "hlsd: "+oneLine(msg))
	return 1
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// newFlagSet returns a flag set for a subcommand whose errors go to m.Stderr.
func (m *Main) newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("hlsd "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(m.Stderr, "usage: hlsd %s %s\n\nflags (also as HLSD_* environment variables):\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, then fills every flag not given on the command line
// from its HLSD_* environment variable (dashes become underscores).
func (m *Main) parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		key := "HLSD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := m.Getenv(key); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = hlsd.Errorf(hlsd.EINVALID, "invalid %s=%q: %v", key, v, e)
			}
		}
	})
	return err
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
