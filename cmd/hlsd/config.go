package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/hlsd/hlsd"
)

// The configuration layers of every subcommand, for any flag registered on
// its flag.FlagSet (there is no list of flags here):
//
//	flag on the command line  >  HLSD_<FLAG> (or HLSD_<FLAG>_FILE for a
//	secret)  >  the --config file (or HLSD_CONFIG)  >  the flag's default
//
// The config file is TOML whose keys are the flag names:
//
//	addr = "127.0.0.1:8080"
//	max-upload = "20GiB"
//	workers = 2
//	cors-origins = ["https://a.example", "https://b.example"]
//
// Arrays are joined with commas (the form list flags take). Only
// subcommands that register --config read a file (serve, config, backup,
// restore); serve and config refuse a key that is not one of their flags,
// backup and restore take from the file only the flags they have.

// configFlag is the flag naming the config file; HLSD_CONFIG sets it too.
const configFlag = "config"

// Where a flag's value came from, as `hlsd config` prints it.
const (
	sourceDefault = "default"
	sourceFlag    = "flag"
)

// secretFlag reports whether a flag holds a secret, by its name: such a
// flag can be read from a file (HLSD_API_TOKEN_FILE), is masked by `hlsd
// config`, and in a config file readable by others draws a warning. New
// secret flags follow the naming rule rather than a list.
func secretFlag(name string) bool {
	for _, s := range []string{"-token", "-secret", "-password"} {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return name == "signing-key"
}

// envName is the environment variable of a flag: HLSD_ and the name in
// upper case with underscores.
func envName(flagName string) string {
	return "HLSD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// layerFlags fills every flag of fs that the command line did not set
// (set holds those) from the environment, then from the config file, and
// returns where each flag's value came from.
func (m *Main) layerFlags(fs *flag.FlagSet, set map[string]bool, strictKeys bool) (map[string]string, error) {
	sources := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) {
		sources[f.Name] = sourceDefault
		if set[f.Name] {
			sources[f.Name] = sourceFlag
		}
	})
	var file map[string]string
	var path string
	if fs.Lookup(configFlag) != nil {
		path = fs.Lookup(configFlag).Value.String()
		if !set[configFlag] && m.Getenv(envName(configFlag)) != "" {
			path = m.Getenv(envName(configFlag))
			sources[configFlag] = "env " + envName(configFlag)
			fs.Set(configFlag, path)
		}
		if path != "" {
			var err error
			if file, err = m.loadConfigFile(path, fs, strictKeys); err != nil {
				return nil, err
			}
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == configFlag || err != nil {
			return
		}
		key := envName(f.Name)
		if v := m.Getenv(key); v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = hlsd.Errorf(hlsd.EINVALID, "invalid %s=%q: %v", key, v, e)
			}
			sources[f.Name] = "env " + key
			return
		}
		if secretFlag(f.Name) {
			if p := m.Getenv(key + "_FILE"); p != "" {
				b, e := os.ReadFile(p)
				if e != nil {
					err = hlsd.Errorf(hlsd.EINVALID, "%s_FILE: %v", key, e)
					return
				}
				if e := fs.Set(f.Name, strings.TrimRight(string(b), "\r\n")); e != nil {
					err = hlsd.Errorf(hlsd.EINVALID, "invalid --%s from %s: %v", f.Name, p, e)
				}
				sources[f.Name] = "file " + key + "_FILE"
				return
			}
		}
		if v, ok := file[f.Name]; ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = hlsd.Errorf(hlsd.EINVALID, "config %s: invalid %s = %q: %v", path, f.Name, v, e)
			}
			sources[f.Name] = "config " + path
		}
	})
	return sources, err
}

// loadConfigFile reads a TOML config file into flag values by name. With
// strictKeys a key that is not a flag of fs is an error naming it;
// otherwise such keys are left for the commands that have them.
func (m *Main) loadConfigFile(path string, fs *flag.FlagSet, strictKeys bool) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "config %s: %v", path, unwrapPath(err))
	}
	var raw map[string]any
	if _, err := toml.Decode(string(b), &raw); err != nil {
		return nil, hlsd.Errorf(hlsd.EINVALID, "config %s: %v", path, oneLine(err.Error()))
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := map[string]string{}
	var secrets []string
	for _, k := range keys {
		if k == configFlag || fs.Lookup(k) == nil {
			if strictKeys || k == configFlag {
				return nil, hlsd.Errorf(hlsd.EINVALID, "config %s: unknown key %q (keys are the flags of '%s -h')", path, k, fs.Name())
			}
			continue
		}
		v, err := tomlValue(raw[k])
		if err != nil {
			return nil, hlsd.Errorf(hlsd.EINVALID, "config %s: %s: %v", path, k, err)
		}
		out[k] = v
		if secretFlag(k) {
			secrets = append(secrets, k)
		}
	}
	if fi, err := os.Stat(path); err == nil && len(secrets) > 0 && fi.Mode().Perm()&0o004 != 0 {
		fmt.Fprintf(m.Stderr, "hlsd: warning: config %s holds secrets (%s) and is readable by every user (mode %#o): chmod o-r it, or pass them as HLSD_<FLAG>_FILE\n",
			path, strings.Join(secrets, ", "), fi.Mode().Perm())
	}
	return out, nil
}

// tomlValue turns a TOML value into the text a flag's Set takes.
func tomlValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			s, err := tomlValue(x)
			if err != nil {
				return "", err
			}
			if _, nested := x.([]any); nested {
				return "", errors.New("nested arrays are not supported")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return "", fmt.Errorf("a %T is not a flag value: use a string, number, boolean or array", v)
}

// runConfig prints the configuration `hlsd serve` would run with, given the
// same flags, environment and config file, as a TOML config file with the
// source of each value and secrets masked.
func runConfig(_ context.Context, m *Main, args []string) error {
	cfg, err := m.parseServeFlags(args)
	if err != nil {
		return err
	}
	return printConfig(m.Stdout, cfg.flags, cfg.sources)
}

// printConfig writes every flag of fs as a TOML line, commented with its
// source; secrets set to anything show as "<redacted>", and the password
// of a URL value is masked.
func printConfig(w io.Writer, fs *flag.FlagSet, sources map[string]string) error {
	fmt.Fprintf(w, "# effective configuration of %s (flag > HLSD_* environment > config file > default)\n", fs.Name())
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == configFlag {
			return
		}
		src := sources[f.Name]
		val := tomlLiteral(f)
		if secretFlag(f.Name) && src != sourceDefault {
			val = `"<redacted>"`
		}
		if _, e := fmt.Fprintf(w, "%s = %s  # %s\n", f.Name, val, src); e != nil && err == nil {
			err = e
		}
	})
	return err
}

// tomlLiteral writes a flag's value as TOML: booleans and numbers bare,
// everything else (durations, sizes, lists) as a string.
func tomlLiteral(f *flag.Flag) string {
	if g, ok := f.Value.(flag.Getter); ok {
		switch v := g.Get().(type) {
		case bool:
			return strconv.FormatBool(v)
		case int, int64, uint, uint64:
			return fmt.Sprint(v)
		case float64:
			return strconv.FormatFloat(v, 'g', -1, 64)
		case time.Duration:
			return strconv.Quote(v.String())
		}
	}
	return strconv.Quote(maskURLPassword(f.Value.String()))
}

// maskURLPassword hides the password of a URL (a database or webhook URL
// with user:password@).
func maskURLPassword(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); !ok {
		return s
	}
	return u.Redacted()
}
