package ingest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hlsd/hlsd"
	"github.com/hlsd/hlsd/internal/ffmpeg"
	"github.com/hlsd/hlsd/internal/hls"
)

// Encryption of presentations (Options.Encrypt) is HLS AES-128: every
// segment is encrypted whole with AES-128-CBC and PKCS#7 padding under one
// fresh random key per presentation, and each segment has its own IV, its
// media sequence number (RFC 8216 section 5.2), written in its EXT-X-KEY.
//
// Encrypted presentations are MPEG-TS: ffmpeg 5.1's HLS muxer refuses to
// encrypt fMP4 ("Encrypted fmp4 not yet supported"), and SAMPLE-AES/CENC
// would need a packager of our own. TS with AES-128 plays in hls.js (which
// decrypts with WebCrypto), Safari and every native player.
//
// The key never lands in the output folder: it is written to
// Options.KeyFile (mode 0600), which must be outside any served folder, and
// players fetch it from Options.KeyURI, which the server answers only for
// requests allowed to play the media.

// KeyLen is the size of an AES-128 key in bytes.
const KeyLen = 16

// DefaultKeyURI is the key's URI in the rendition playlists when
// Options.KeyURI is empty: relative, so that from /hls/{id}/720p/index.m3u8
// it points at /hls/{id}/key, and a signed path prefix
// (/hls/t/{token}/{id}/...) carries over to the key request.
const DefaultKeyURI = "../key"

// encryption is the key material of one Run.
type encryption struct {
	key     []byte
	keyPath string // where ffmpeg reads the key: final, or a temp beside it until publish
	final   string // Options.KeyFile
	info    string // hlsenc key info file
}

// checkEncryption validates the encryption options of opts (out is the
// absolute output folder) and settles the format: TS when none was asked
// for, an error for fMP4.
func checkEncryption(opts *Options, out string) error {
	if opts.KeyFile == "" {
		return hlsd.Errorf(hlsd.EINVALID, "encryption needs a key file path")
	}
	switch opts.Format {
	case "":
		opts.Format = ffmpeg.FormatTS
	case ffmpeg.FormatTS:
	default:
		return hlsd.Errorf(hlsd.EINVALID, "AES-128 encryption needs the ts format: ffmpeg cannot encrypt %s segments", opts.Format)
	}
	if opts.KeyURI == "" {
		opts.KeyURI = DefaultKeyURI
	}
	if strings.ContainsAny(opts.KeyURI, "\"\r\n") {
		return hlsd.Errorf(hlsd.EINVALID, "the key URI %q contains a quote or a line break", opts.KeyURI)
	}
	kf, err := filepath.Abs(opts.KeyFile)
	if err != nil {
		return fmt.Errorf("key file: %w", err)
	}
	if rel, err := filepath.Rel(out, kf); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return hlsd.Errorf(hlsd.EINVALID, "the key file %s is inside the output folder, where anyone could download it", opts.KeyFile)
	}
	opts.KeyFile = kf
	return nil
}

// startEncryption makes a fresh random key and writes it and the key info
// file that ffmpeg reads. In progressive mode the key goes straight to its
// final place (players need it while encoding); otherwise it waits beside
// it until publish, so that a replaced presentation keeps its own key until
// the new one is in place.
func startEncryption(opts Options) (*encryption, error) {
	e := &encryption{key: make([]byte, KeyLen), final: opts.KeyFile}
	if _, err := rand.Read(e.key); err != nil {
		return nil, fmt.Errorf("make key: %w", err)
	}
	dir := filepath.Dir(opts.KeyFile)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, writeError(dir, err)
	}
	tmp, err := writePrivate(dir, filepath.Base(opts.KeyFile), e.key)
	if err != nil {
		return nil, writeError(dir, err)
	}
	e.keyPath = tmp
	if opts.Progressive {
		if err := os.Rename(tmp, e.final); err != nil {
			os.Remove(tmp)
			return nil, writeError(dir, err)
		}
		e.keyPath = e.final
	}
	// Line 1: the URI written in EXT-X-KEY; line 2: the key file; no line
	// 3, so each segment's IV is its sequence number (see
	// ffmpeg.Job.KeyInfo).
	info, err := writePrivate(dir, filepath.Base(opts.KeyFile)+"info", []byte(opts.KeyURI+"\n"+e.keyPath+"\n"))
	if err != nil {
		e.cleanup(false)
		return nil, writeError(dir, err)
	}
	e.info = info
	return e, nil
}

// writePrivate writes data to a new file of mode 0600 in dir, named after
// name, and returns its path.
func writePrivate(dir, name string, data []byte) (string, error) {
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// publish puts the key in its final place (atomic mode).
func (e *encryption) publish() error {
	if e.keyPath == e.final {
		return nil
	}
	if err := os.Rename(e.keyPath, e.final); err != nil {
		return err
	}
	e.keyPath = e.final
	return nil
}

// cleanup removes the key info file, and the key too when the presentation
// was not published (it would protect nothing).
func (e *encryption) cleanup(published bool) {
	if e.info != "" {
		os.Remove(e.info)
	}
	if !published {
		os.Remove(e.keyPath)
	}
}

// segmentIV returns the IV of the segment at index i of p: the IV of the
// EXT-X-KEY that applies to it, or its media sequence number.
func segmentIV(p *hls.Media, i int) ([]byte, error) {
	var k *hls.Key
	for j := i; j >= 0 && k == nil; j-- {
		k = p.Segments[j].Key
	}
	if k == nil || k.Method != "AES-128" {
		return nil, errors.New("segment is not encrypted with AES-128")
	}
	if k.IV != "" {
		iv, err := hex.DecodeString(k.IV[2:])
		if err != nil || len(iv) != aes.BlockSize {
			return nil, fmt.Errorf("bad IV %q", k.IV)
		}
		return iv, nil
	}
	iv := make([]byte, aes.BlockSize)
	binary.BigEndian.PutUint64(iv[8:], uint64(p.MediaSequence+i))
	return iv, nil
}

// DecryptSegment returns the plain bytes of an AES-128 HLS segment:
// AES-128-CBC with PKCS#7 padding. A wrong key or IV usually shows as bad
// padding; when it does not, the plain text is garbage.
func DecryptSegment(data, key, iv []byte) ([]byte, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 || len(data)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("encrypted segment of %d bytes is not whole AES blocks", len(data))
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, errors.New("bad padding: wrong key or IV")
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return nil, errors.New("bad padding: wrong key or IV")
		}
	}
	return out[:len(out)-pad], nil
}

// decryptFirst checks that every segment of p is AES-128 encrypted and
// returns the plain bytes of the first one, whose encrypted bytes are data.
func decryptFirst(p *hls.Media, data, key []byte) ([]byte, error) {
	if len(p.Segments) == 0 || p.Segments[0].Key == nil || p.Segments[0].Key.Method != "AES-128" {
		return nil, errors.New("segments are not encrypted although encryption was asked for")
	}
	iv, err := segmentIV(p, 0)
	if err != nil {
		return nil, err
	}
	return DecryptSegment(data, key, iv)
}
