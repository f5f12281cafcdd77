package testenv

import (
	"io"
	"sync"
)

// LockedWriter writes to W under Mu, so that a log handler writing from
// several goroutines and a test reading W (under the same Mu) do not race.
type LockedWriter struct {
	Mu *sync.Mutex
	W  io.Writer
}

func (l LockedWriter) Write(p []byte) (int, error) {
	l.Mu.Lock()
	defer l.Mu.Unlock()
	return l.W.Write(p)
}
