package server

import (
	"context"
	"sync"
	"time"

	tushandler "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
)

// tusReleaseGrace is how long a request that wants an upload's lock waits
// for the holder to finish by itself before asking it to stop.
const tusReleaseGrace = 2 * time.Second

// graceLocker is tusd's in-memory locker with a grace period. When a client
// resumes (or cancels) an upload whose previous PATCH the server still
// holds, usually because that connection has just died and the handler is
// about to notice, tusd interrupts the holder at once. Waiting a moment lets
// the holder end on its own and keep every byte it read; it also avoids
// tusd v2.9.1's data race on the interruption path (handler/context.go
// reads httpContext.body unsynchronised against writeChunk).
type graceLocker struct{ *memorylocker.MemoryLocker }

func (g graceLocker) UseIn(c *tushandler.StoreComposer) { c.UseLocker(g) }

func (g graceLocker) NewLock(id string) (tushandler.Lock, error) {
	l, err := g.MemoryLocker.NewLock(id)
	if err != nil {
		return nil, err
	}
	return &graceLock{inner: l}, nil
}

type graceLock struct {
	inner tushandler.Lock
	mu    sync.Mutex
	held  bool
}

func (l *graceLock) Lock(ctx context.Context, requestRelease func()) error {
	err := l.inner.Lock(ctx, func() {
		time.AfterFunc(tusReleaseGrace, func() {
			l.mu.Lock()
			held := l.held
			l.mu.Unlock()
			if held {
				requestRelease()
			}
		})
	})
	if err == nil {
		l.mu.Lock()
		l.held = true
		l.mu.Unlock()
	}
	return err
}

func (l *graceLock) Unlock() error {
	l.mu.Lock()
	l.held = false
	l.mu.Unlock()
	return l.inner.Unlock()
}
