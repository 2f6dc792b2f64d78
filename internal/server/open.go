package server

import (
	"os"
	"syscall"
)

// openServed opens a file of a served folder for reading without ever
// blocking: with O_NONBLOCK, open(2) returns at once for a FIFO (which
// would otherwise wait for a writer, holding the request forever) or a
// device. Every caller then checks with f.Stat that it is a regular file
// before reading a byte; on a regular file O_NONBLOCK changes nothing.
func openServed(root *os.Root, name string) (*os.File, error) {
	return root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
