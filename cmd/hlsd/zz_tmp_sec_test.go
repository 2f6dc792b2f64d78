package main

import (
	"testing"

	"github.com/hlsd/hlsd/internal/browsertest"
)

func TestZZTmpTS(t *testing.T) {
	for _, d := range []string{"tsaudio", "tsmux"} {
		srv := startServe(t, nil, "--data", t.TempDir(), "--static", "/tmp/clienc/"+d)
		b := browsertest.New(t)
		if pb, err := b.PlayHLS(t, srv.base+"/static/master.m3u8", 1.5); err != nil {
			t.Errorf("%s: %v %s", d, err, pb.PageURL)
		}
	}
}
