// A trivial loopback HTTP server for the load benchmarks: fast enough on one core
// that the generators, not the server, are what is measured. Optional fixed delay
// for the accuracy bench. Standard library only (go build needs no download).
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: any)")
	delay := flag.Duration("delay", 0, "fixed answer delay")
	flag.Parse()
	body := []byte(`{"id":"pay_1"}`)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if *delay > 0 {
			time.Sleep(*delay)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTEN %d\n", ln.Addr().(*net.TCPAddr).Port)
	_ = http.Serve(ln, handler)
}
