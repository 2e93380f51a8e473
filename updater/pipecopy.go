package updater

import (
	"io"
	"sync"
)

// pipeCopy copies r to w and h like io.Copy(io.MultiWriter(w, h), r), but
// reading, writing and hashing run as a three-stage pipeline over a few
// 1 MiB buffers, so hashing (one core) overlaps with network and disk I/O.
// Memory stays bounded at nbuf buffers whatever the artifact's size.
func pipeCopy(w, h io.Writer, r io.Reader) (int64, error) {
	const bufSize, nbuf = 1 << 20, 4
	type chunk struct {
		b []byte
		n int
	}
	free := make(chan []byte, nbuf)
	for i := 0; i < nbuf; i++ {
		free <- make([]byte, bufSize)
	}
	toWrite := make(chan chunk, nbuf)
	toHash := make(chan chunk, nbuf)
	var (
		mu   sync.Mutex
		werr error
		wg   sync.WaitGroup
	)
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return werr != nil }
	wg.Add(2)
	go func() { // writer
		defer wg.Done()
		defer close(toHash)
		for c := range toWrite {
			if !failed() {
				if _, err := w.Write(c.b[:c.n]); err != nil {
					mu.Lock()
					werr = err
					mu.Unlock()
				}
			}
			toHash <- c
		}
	}()
	go func() { // hasher
		defer wg.Done()
		for c := range toHash {
			h.Write(c.b[:c.n])
			free <- c.b
		}
	}()
	var total int64
	var rerr error
	for !failed() {
		b := <-free
		n, err := readFull(r, b)
		if n > 0 {
			total += int64(n)
			toWrite <- chunk{b, n}
		} else {
			free <- b
		}
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
	}
	close(toWrite)
	wg.Wait()
	if werr != nil {
		return total, werr
	}
	return total, rerr
}

// readFull reads until b is full, the reader ends, or it fails; unlike
// io.ReadFull a short final read is not an error.
func readFull(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
