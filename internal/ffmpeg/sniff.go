package ffmpeg

import (
	"errors"
	"io"
	"os"
)

// SniffFile refuses, with the same clear EUNSUPPORTED error as Probe, a
// file at path whose first bytes are a playlist or script that makes
// ffmpeg open other files or URLs (HLS, ffconcat, SDP, DASH, ...). It is
// the cheap first check the library runs when an upload arrives, so the
// uploader hears at once; Probe repeats it, and -format_whitelist is the
// last line. name is the file name shown in the message.
func SniffFile(path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, sniffSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return err
	}
	return sniff(head[:n], name)
}
