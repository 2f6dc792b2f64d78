// Command hlsd packages audio and video into adaptive HLS and serves it.
//
//	hlsd serve  [flags]          run the server (library, API, delivery)
//	hlsd ingest [flags] INPUT    package one file into an HLS presentation
//	hlsd probe  INPUT            print what ffprobe sees in a file, as JSON
//	hlsd config [flags]          print serve's effective configuration
//	hlsd backup [flags] DEST     copy the data dir consistently, while serving
//	hlsd restore [flags] SRC     put a backup in place as the data dir
//	hlsd version                 print the version and build revision
//
// Every flag can also be set with an HLSD_* environment variable
// (--cors-origins is HLSD_CORS_ORIGINS) and, for serve, in a TOML config
// file (--config); a flag on the command line wins (see config.go).
// Flags may come before or after the positional arguments.
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

// Main is the program with its standard streams, so tests run it in-process.
type Main struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv looks up HLSD_* variables; tests replace it to stay hermetic.
	Getenv func(string) string
	// IsTerminal reports whether Stderr is a terminal: progress bars are
	// drawn there, and only then.
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
		{"config", "print serve's effective configuration (flags, HLSD_* variables, config file), secrets masked", runConfig},
		{"backup", "copy the data dir (database, media, keys) consistently, also while serving", runBackup},
		{"restore", "put a backup in place as a new data dir", runRestore},
		{"version", "print the version, VCS revision and build date", func(_ context.Context, m *Main, _ []string) error {
			fmt.Fprintln(m.Stdout, versionInfo())
			return nil
		}},
	}
}

func main() {
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, IsTerminal: isTerminal(os.Stderr), Umask: syscall.Umask}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := m.Run(ctx, os.Args[1:])
	stop()
	os.Exit(m.exitCode(err))
}

// Run runs the subcommand named by args[0].
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		m.usage(m.Stderr)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		m.usage(m.Stdout)
		return nil
	case "-version", "--version":
		args = []string{"version"}
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
	fmt.Fprintln(w, "Run 'hlsd <command> -h' for a command's flags. Flags may also be set as HLSD_<FLAG>")
	fmt.Fprintln(w, "environment variables and, for serve, in a TOML file given with --config (or HLSD_CONFIG).")
	fmt.Fprintln(w, "'hlsd --version' prints the version.")
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

// newFlagSet returns a flag set for a subcommand. Its usage goes to the
// flag set's output: stdout for -h, stderr after a usage error.
func (m *Main) newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("hlsd "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: hlsd %s %s\n\nflags (also as HLSD_* environment variables):\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, flags and positional arguments in any order,
// then fills every flag not given on the command line from its HLSD_*
// environment variable and the config file (config.go). -h prints the
// usage on stdout (flag.ErrHelp: exit 0); a bad flag is one line on stderr.
func (m *Main) parseFlags(fs *flag.FlagSet, args []string) error {
	_, err := m.parseFlagsFrom(fs, args, true)
	return err
}

// parseFlagsFrom is parseFlags that also returns where each value came
// from; strictKeys refuses config file keys that are not flags of fs.
func (m *Main) parseFlagsFrom(fs *flag.FlagSet, args []string, strictKeys bool) (map[string]string, error) {
	usage := fs.Usage
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := parseInterleaved(fs, args)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(m.Stdout)
		fs.Usage()
		fs.SetOutput(m.Stderr)
		return nil, err
	}
	fs.SetOutput(m.Stderr)
	if err != nil {
		fmt.Fprintf(m.Stderr, "%s: %s (see '%s -h')\n", fs.Name(), flagError(err), fs.Name())
		return nil, errUsage
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return m.layerFlags(fs, set, strictKeys)
}

// parseInterleaved parses flags wherever they are among the positional
// arguments (`hlsd ingest clip.mp4 -o out/`); after "--" everything is
// positional. fs.Args() then returns the positional arguments in order.
func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	// Parsing "--" and the positionals again leaves the flag values as they
	// are and makes fs.Args() return the positionals.
	return fs.Parse(append([]string{"--"}, pos...))
}

// flagError rewords the flag package's errors with the --name spelling
// the usage shows: "unknown flag --port".
func flagError(err error) string {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		return "unknown flag --" + name
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		return "flag --" + name + " needs a value"
	}
	return strings.Replace(msg, " for flag -", " for flag --", 1)
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
