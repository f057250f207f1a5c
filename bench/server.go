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

func main() {
	port := flag.Int("port", 0, "port on 127.0.0.1 (0: any)")
	delay := flag.Duration("delay", 0, "fixed answer delay")
	flag.Parse()
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
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTEN %d\n", ln.Addr().(*net.TCPAddr).Port)
	_ = http.Serve(ln, handler)
}
