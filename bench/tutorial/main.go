// Command tutorial is the original tutorial's HLS server, kept as the baseline
// that bench/serve.sh measures hlsd and nginx against.
//
// The handler is exactly the tutorial's:
//
//	http.Handle("/", addHeaders(http.FileServer(http.Dir(dir))))
//
// with addHeaders setting Access-Control-Allow-Origin: *. Only the directory
// and listen address are flags, so that the benchmark can bind 127.0.0.1 on a
// port of its choosing; everything else is left as a new user would have it
// (content types from Go's table and the OS, directory listings, no timeouts).
package main

import (
	"flag"
	"log"
	"net/http"
)

// addHeaders is the tutorial's middleware: it adds the CORS header to every
// response so that players on other origins can fetch the playlist.
func addHeaders(h http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h.ServeHTTP(w, r)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	dir := flag.String("dir", "songs", "folder to serve")
	flag.Parse()

	http.Handle("/", addHeaders(http.FileServer(http.Dir(*dir))))
	log.Printf("Serving %s on HTTP address: %v", *dir, *addr)
	log.Fatal(http.ListenAndServe(*addr, nil))
}
