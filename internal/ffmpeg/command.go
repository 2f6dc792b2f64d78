package ffmpeg

import (
	"context"
	"os/exec"
	"time"
)

// command returns the exec.Cmd every child process of this package runs as:
// killed with the context, given a few seconds to release its pipes, and
// (on Linux) killed by the kernel when hlsd itself dies, even by SIGKILL, so
// an orphaned ffmpeg never keeps writing into a folder a restarted server
// is redoing.
func command(ctx context.Context, bin string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	setParentDeathSignal(cmd)
	return cmd
}
