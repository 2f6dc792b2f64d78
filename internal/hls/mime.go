package hls

// ContentType returns the MIME type of a presentation file from its
// extension, compared without regard to case, or "" when the extension is
// not one a presentation holds. It is on the server's hot path, so it
// neither allocates nor consults the OS MIME database (which maps .ts to
// Qt Linguist).
func ContentType(name string) string {
	dot := -1
	for i := len(name) - 1; i >= 0 && name[i] != '/'; i-- {
		if name[i] == '.' {
			dot = i
			break
		}
	}
	if dot < 0 || len(name)-dot > 6 {
		return ""
	}
	var buf [6]byte
	ext := buf[:0]
	for i := dot; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		ext = append(ext, c)
	}
	switch string(ext) {
	case ".m3u8":
		return MIMEPlaylist
	case ".ts":
		return MIMETS
	case ".m4s", ".mp4", ".m4v":
		return MIMEMP4
	case ".m4a":
		return MIMEAudioMP4
	case ".aac":
		return MIMEAAC
	case ".mp3":
		return MIMEMP3
	case ".vtt":
		return MIMEVTT
	case ".jpg", ".jpeg":
		return MIMEJPEG
	case ".png":
		return MIMEPNG
	case ".webp":
		return MIMEWebP
	case ".key":
		return MIMEKey
	case ".json":
		return MIMEJSON
	}
	return ""
}
