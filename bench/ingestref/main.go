// Command ingestref turns the command line of the one ffmpeg process that
// `hlsd ingest` ran into the reference of the ingest benchmark: one plain
// ffmpeg command per rendition, with exactly the same input options, scaling,
// encoder, rate control, keyframe and HLS muxer arguments, run one after the
// other by bench/ingest.sh.
//
// Deriving the reference from the argv hlsd really ran (captured by a wrapper
// script that hlsd runs as its ffmpeg) keeps the comparison fair when the
// ingest settings change: nothing is restated by hand here.
//
// Usage:
//
//	ingestref -argv FILE -dir REFDIR
//
// FILE holds the captured arguments separated by NUL bytes. For each output
// rendition, ingestref creates its folder under REFDIR and writes
// REFDIR/NN-NAME.argv (NUL-separated, without the program name), printing
// each file's path on stdout.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	argvFile := flag.String("argv", "", "file with the captured ffmpeg arguments, NUL-separated")
	dir := flag.String("dir", "", "folder for the reference outputs")
	flag.Parse()
	if *argvFile == "" || *dir == "" {
		fmt.Fprintln(os.Stderr, "usage: ingestref -argv FILE -dir REFDIR")
		os.Exit(2)
	}
	if err := run(*argvFile, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "ingestref:", err)
		os.Exit(1)
	}
}

func run(argvFile, dir string) error {
	raw, err := os.ReadFile(argvFile)
	if err != nil {
		return err
	}
	args := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	refs, err := split(args, dir)
	if err != nil {
		return err
	}
	for i, r := range refs {
		if err := os.MkdirAll(filepath.Join(dir, r.name), 0o755); err != nil {
			return err
		}
		var b bytes.Buffer
		for _, a := range r.args {
			b.WriteString(a)
			b.WriteByte(0)
		}
		path := filepath.Join(dir, fmt.Sprintf("%02d-%s.argv", i, r.name))
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Println(path)
	}
	return nil
}

// ref is one rendition's own ffmpeg command.
type ref struct {
	name string // rendition folder name, e.g. "720p"
	args []string
}

// split cuts a multi-output ffmpeg command into one command per output.
// Options before -filter_complex (less -progress) are kept for every command;
// each output group starts at its -map. A video output mapped from a filter
// label gets a one-chain graph: the source chain's filters before the split,
// then the branch's own filters (scale, format...). Output paths under the
// original work folder are moved under dir.
func split(args []string, dir string) ([]ref, error) {
	var global []string
	graph := ""
	i := 0
	for ; i < len(args) && args[i] != "-map"; i++ {
		switch args[i] {
		case "-progress":
			i++ // drop the progress pipe: a plain run has nobody reading it
		case "-filter_complex":
			if i+1 >= len(args) {
				return nil, errors.New("-filter_complex without a graph")
			}
			graph = args[i+1]
			i++
		default:
			global = append(global, args[i])
		}
	}
	var groups [][]string
	for ; i < len(args); i++ {
		if args[i] == "-map" {
			groups = append(groups, nil)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], args[i])
	}
	if len(groups) == 0 {
		return nil, errors.New("no -map output in the command")
	}
	var refs []ref
	for _, g := range groups {
		if len(g) < 3 {
			return nil, fmt.Errorf("output group %q too short", strings.Join(g, " "))
		}
		playlist := g[len(g)-1]
		work := filepath.Dir(filepath.Dir(playlist))
		name := filepath.Base(filepath.Dir(playlist))
		out := make([]string, 0, len(global)+len(g)+2)
		out = append(out, global...)
		if label := g[1]; strings.HasPrefix(label, "[") {
			chain, err := branch(graph, label)
			if err != nil {
				return nil, err
			}
			out = append(out, "-filter_complex", chain)
		}
		for _, a := range g {
			if strings.HasPrefix(a, work+string(filepath.Separator)) {
				a = filepath.Join(dir, strings.TrimPrefix(a, work))
			}
			out = append(out, a)
		}
		refs = append(refs, ref{name: name, args: out})
	}
	return refs, nil
}

// branch returns a filter graph with one chain that ends in label: the chain
// producing label, preceded, when it starts from a split, by the filters that
// came before that split.
func branch(graph, label string) (string, error) {
	chains := strings.Split(graph, ";")
	var mine string
	for _, c := range chains {
		if strings.HasSuffix(c, label) {
			mine = c
		}
	}
	if mine == "" {
		return "", fmt.Errorf("no chain ends in %s in graph %q", label, graph)
	}
	in, body, ok := cutLabel(mine)
	if !ok {
		return mine, nil
	}
	for _, c := range chains {
		src, filters, ok := cutLabel(c)
		if !ok {
			continue
		}
		k := strings.LastIndex(filters, "split=")
		if k < 0 || !strings.Contains(filters[k:], in) {
			continue
		}
		pre := strings.TrimSuffix(filters[:k], ",")
		if pre != "" {
			pre += ","
		}
		return src + pre + body, nil
	}
	return mine, nil
}

// cutLabel splits "[in]filters..." into "[in]" and the rest.
func cutLabel(chain string) (string, string, bool) {
	if !strings.HasPrefix(chain, "[") {
		return "", chain, false
	}
	end := strings.Index(chain, "]")
	if end < 0 {
		return "", chain, false
	}
	return chain[:end+1], chain[end+1:], true
}
