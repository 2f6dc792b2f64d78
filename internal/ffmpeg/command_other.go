//go:build !linux

package ffmpeg

import "os/exec"

func setParentDeathSignal(*exec.Cmd) {}
