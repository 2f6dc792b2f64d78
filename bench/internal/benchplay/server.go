package benchplay

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// Server is a running `hlsd serve` on a free 127.0.0.1 port.
type Server struct {
	Base string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	done chan struct{}
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// StartHLSD runs `bin serve` with the given API token and extra flags (such
// as --data DIR) and returns once its log says where it listens.
func StartHLSD(bin, token string, flags ...string) (*Server, error) {
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "off"}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HLSD_API_TOKEN="+token)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		b := make([]byte, 64<<10)
		var seen strings.Builder
		for {
			n, err := pipe.Read(b)
			if seen.Len() < 1<<20 { // the line comes first; keep draining after
				seen.Write(b[:n])
				if m := listening.FindStringSubmatch(seen.String()); m != nil {
					select {
					case addr <- m[1]:
					default:
					}
				}
			}
			if err != nil {
				break
			}
		}
		cmd.Wait()
		close(s.done)
	}()
	select {
	case a := <-addr:
		s.Base = "http://" + a
		return s, nil
	case <-s.done:
		return nil, errors.New("hlsd exited before listening")
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		return nil, errors.New("hlsd did not start")
	}
}

// Stop interrupts hlsd and waits for it to drain and exit (a minute at most).
func (s *Server) Stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(time.Minute):
		s.cmd.Process.Kill()
	}
}
