package bulwarktest

import (
	"io"
	"net"
	"sync"
	"time"
)

// Proxy is a TCP proxy between code under test and a real service
// (PostgreSQL, Redis, an HTTP upstream) through which a test injects faults:
// cut every connection, swallow traffic, add latency, and restore. It is how
// bulwark's tests make a dependency fail without touching the shared
// service itself.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	mode    proxyMode
	latency time.Duration
	conns   map[net.Conn]struct{}
	closed  bool
	wg      sync.WaitGroup
}

type proxyMode int

const (
	modePass proxyMode = iota
	modeCut
	modeBlackhole
)

// StartProxy listens on listen ("127.0.0.1:0" for any loopback port) and
// forwards each connection to target. It works outside tests too (a demo
// that shows a dependency failing, say). Close it when done; a test does
// so with t.Cleanup:
//
//	p, err := bulwarktest.StartProxy("127.0.0.1:0", redisAddr)
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { p.Close() })
func StartProxy(listen, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr returns the host:port clients should dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every live connection and refuses new ones (they are accepted
// and closed at once), as when a service goes down.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.mode = modeCut
	p.closeConnsLocked()
	p.mu.Unlock()
}

// Blackhole keeps connections open but forwards nothing in either
// direction, as when a network partition swallows packets: callers hang
// until their own timeouts fire. Live connections are dropped so that no
// request in flight completes.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	p.mode = modeBlackhole
	p.closeConnsLocked()
	p.mu.Unlock()
}

// SetLatency delays every chunk forwarded in either direction by d.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// Restore returns to normal forwarding for new connections and removes
// latency.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.mode = modePass
	p.latency = 0
	p.closeConnsLocked() // blackholed connections are useless; drop them
	p.mu.Unlock()
}

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.closeConnsLocked()
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) closeConnsLocked() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		switch mode {
		case modeCut:
			c.Close()
			continue
		case modeBlackhole:
			if p.track(c) {
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					io.Copy(io.Discard, c) // swallow until closed
				}()
			}
			continue
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

func (p *Proxy) forward(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	upstream, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(upstream) {
		client.Close()
		return
	}
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			client.Close()
			upstream.Close()
			p.mu.Lock()
			delete(p.conns, client)
			delete(p.conns, upstream)
			p.mu.Unlock()
		})
	}
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.pipe(upstream, client); closeBoth() }()
	go func() { defer p.wg.Done(); p.pipe(client, upstream); closeBoth() }()
}

func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			lat, mode := p.latency, p.mode
			p.mu.Unlock()
			if mode != modePass {
				return
			}
			if lat > 0 {
				time.Sleep(lat)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF, a closed connection or a reset: the pair is done
		}
	}
}
