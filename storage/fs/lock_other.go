//go:build !unix

package fs

import "sync"

var locks sync.Map // path -> *sync.Mutex

// lockFile serialises conditional writers of one key within this process
// only (no cross-process lock outside unix).
func lockFile(path string) (unlock func(), err error) {
	m, _ := locks.LoadOrStore(path, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock, nil
}
