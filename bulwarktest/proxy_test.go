package bulwarktest_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/bulwark-mcp/bulwark/bulwarktest"
)

// echoServer answers each line with the same line.
func echoServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestProxyFaults(t *testing.T) {
	p, err := bulwarktest.StartProxy("127.0.0.1:0", echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := roundTrip(p.Addr(), time.Second); err != nil {
		t.Fatalf("pass: %v", err)
	}
	p.Cut()
	if err := roundTrip(p.Addr(), time.Second); err == nil {
		t.Fatal("cut: round trip succeeded")
	}
	p.Blackhole()
	if err := roundTrip(p.Addr(), 100*time.Millisecond); err == nil {
		t.Fatal("blackhole: round trip succeeded")
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("blackhole: want a timeout, got %v", err)
	}
	p.Restore()
	p.SetLatency(20 * time.Millisecond)
	start := time.Now()
	if err := roundTrip(p.Addr(), time.Second); err != nil {
		t.Fatalf("latency: %v", err)
	}
	if time.Since(start) < 40*time.Millisecond {
		t.Error("latency not applied in both directions")
	}
	p.Restore()
	if err := roundTrip(p.Addr(), time.Second); err != nil {
		t.Fatalf("restore: %v", err)
	}
}

func TestFakeClock(t *testing.T) {
	c := bulwarktest.NewFakeClock(time.Time{})
	start := c.Now()
	ch := c.After(time.Second)
	done := make(chan time.Time)
	go func() { done <- <-ch }()
	c.BlockUntil(1)
	c.Advance(999 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("fired early")
	default:
	}
	c.Advance(time.Millisecond)
	if got := <-done; !got.Equal(start.Add(time.Second)) {
		t.Errorf("fired at %v", got)
	}
	// A fired waiter is gone: a later advance past its time sends nothing.
	c.Advance(time.Hour)
	select {
	case <-ch:
		t.Error("fired twice")
	default:
	}
}
