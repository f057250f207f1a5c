// A trivial loopback HTTP server for the load benchmarks. Standard library only
// (go build needs no download).
//
// Without -delay it is a raw HTTP/1.1 responder: it reads requests off the socket,
// finds each one's end (head + Content-Length) and answers every complete request
// with the same fixed 201. net/http costs ~11 µs of server CPU per request here, so
// on its one core it capped every fast generator at ~90k req/s and the throughput
// bench measured the server (all tools level within 2%). This one costs ~6 µs, so
// the generator's core is the bound and the bench compares generators (bench/load.ts
// records the server's CPU share beside each row to show it).
//
// With -delay it is net/http with a precise fixed delay, for the accuracy bench.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
	"unsafe"
)

type itimerspec struct{ interval, value syscall.Timespec }

// preciseSleep waits d on a timerfd. time.Sleep wakes through epoll_wait, whose
// timeout is whole milliseconds: a 50 ms sleep overshoots by ~0.5 ms on average,
// which every generator would report as latency. A timerfd is an fd the netpoller
// watches, so the goroutine wakes when the kernel timer fires (microseconds).
func preciseSleep(d time.Duration) {
	const tfdNonblock, tfdCloexec = 0x800, 0x80000
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, 1 /* CLOCK_MONOTONIC */, tfdNonblock|tfdCloexec, 0)
	if errno != 0 {
		time.Sleep(d)
		return
	}
	spec := itimerspec{value: syscall.NsecToTimespec(d.Nanoseconds())}
	if _, _, errno := syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		syscall.Close(int(fd))
		time.Sleep(d)
		return
	}
	// A non-blocking fd given to os.NewFile is registered with the netpoller.
	f := os.NewFile(fd, "timerfd")
	var expirations [8]byte
	_, _ = f.Read(expirations[:])
	_ = f.Close()
}

var rawAnswer = []byte("HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{\"id\":\"pay_1\"}")

// requestEnd returns where the request starting at buf[0] ends (head and body), or
// -1 if it is not complete yet. Chunked request bodies are refused: no generator in
// the bench sends one, and guessing their end would answer garbage.
func requestEnd(buf []byte) (int, error) {
	headEnd := bytes.Index(buf, []byte("\r\n\r\n"))
	if headEnd < 0 {
		return -1, nil
	}
	length := 0
	for head := buf[:headEnd+2]; len(head) > 0; {
		i := bytes.IndexByte(head, '\n')
		line := head[:i+1]
		head = head[i+1:]
		switch {
		case len(line) > 15 && bytes.EqualFold(line[:15], []byte("content-length:")):
			for _, c := range line[15:] {
				if c >= '0' && c <= '9' {
					length = length*10 + int(c-'0')
				}
			}
		case len(line) > 18 && bytes.EqualFold(line[:18], []byte("transfer-encoding:")):
			return -1, fmt.Errorf("chunked request bodies are not supported by the raw bench server")
		}
	}
	if end := headEnd + 4 + length; end <= len(buf) {
		return end, nil
	}
	return -1, nil
}

// serveRaw answers one connection. All complete requests found in one read are
// answered with one write (a pipelining client gets its answers batched).
func serveRaw(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 64*1024)
	out := make([]byte, 0, 16*1024)
	have := 0
	for {
		if have == len(buf) {
			buf = append(buf, make([]byte, len(buf))...)
		}
		n, err := c.Read(buf[have:])
		if err != nil {
			return
		}
		have += n
		start := 0
		out = out[:0]
		for {
			end, err := requestEnd(buf[start:have])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return
			}
			if end < 0 {
				break
			}
			out = append(out, rawAnswer...)
			start += end
		}
		if len(out) > 0 {
			if _, err := c.Write(out); err != nil {
				return
			}
		}
		have = copy(buf, buf[start:have])
	}
}

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: any)")
	delay := flag.Duration("delay", 0, "fixed answer delay (uses net/http)")
	flag.Parse()
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTEN %d\n", ln.Addr().(*net.TCPAddr).Port)
	if *delay == 0 {
		for {
			c, err := ln.Accept()
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			go serveRaw(c)
		}
	}
	body := []byte(`{"id":"pay_1"}`)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, _ = io.Copy(io.Discard, r.Body)
		if *delay > 0 {
			preciseSleep(*delay - time.Since(start))
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		_, _ = w.Write(body)
	})
	_ = http.Serve(ln, handler)
}
