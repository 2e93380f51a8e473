package updater

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// pipeCopy copies r to w and h like io.Copy(io.MultiWriter(w, h), r), but
// reading, writing and hashing run concurrently over a ring of big
// buffers: while the next buffer is read, the ones before it are written
// and hashed side by side, each by its own goroutine, so the hash (one
// core) overlaps with network and disk I/O instead of following the write.
// Memory stays bounded at nbuf buffers whatever the artifact's size.
//
// It returns the bytes written to w. When that is every byte read, h has
// seen exactly those bytes; after a write error h may have seen more.
func pipeCopy(w, h io.Writer, r io.Reader) (int64, error) {
	const bufSize, nbuf = 1 << 20, 8
	type chunk struct {
		b    []byte
		n    int
		refs atomic.Int32 // stages still to see b; 0 returns it to free
	}
	free := make(chan *chunk, nbuf)
	for i := 0; i < nbuf; i++ {
		free <- &chunk{b: make([]byte, bufSize)}
	}
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c
		}
	}
	toWrite := make(chan *chunk, nbuf)
	toHash := make(chan *chunk, nbuf)
	var (
		written int64
		werr    error
		failed  atomic.Bool
		wg      sync.WaitGroup
	)
	wg.Add(2)
	go func() { // writer
		defer wg.Done()
		for c := range toWrite {
			if werr == nil {
				n, err := w.Write(c.b[:c.n])
				written += int64(n)
				if err == nil && n < c.n {
					err = io.ErrShortWrite
				}
				if err != nil {
					werr = err
					failed.Store(true)
				}
			}
			release(c)
		}
	}()
	go func() { // hasher
		defer wg.Done()
		for c := range toHash {
			_, _ = h.Write(c.b[:c.n]) // hash.Hash.Write never fails
			release(c)
		}
	}()
	var rerr error
	for !failed.Load() {
		c := <-free
		n, err := readFull(r, c.b)
		if n > 0 {
			c.n = n
			c.refs.Store(2)
			toWrite <- c
			toHash <- c
		} else {
			free <- c
		}
		if err != nil {
			if err != io.EOF {
				rerr = err
			}
			break
		}
	}
	close(toWrite)
	close(toHash)
	wg.Wait()
	if werr != nil {
		return written, werr
	}
	return written, rerr
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

// Every hintEvery bytes writeBehind asks the kernel to start writing the
// file out; every syncEvery bytes it syncs it in the background. On the
// bench machine (a VM whose disk flush is the slow part) 8 and 32 MiB made
// Fetch about a quarter faster than hints alone; syncing every 16 MiB was
// no better.
const (
	hintEvery = 8 << 20
	syncEvery = 32 << 20
)

// writeBehind goes after f in an io.MultiWriter: it writes nothing
// itself, but as bytes reach f it gets them to disk while the download
// runs, so the Sync before the rename waits for the last few MiB instead
// of the whole file. stop must be called once the copy is over.
type writeBehind struct {
	f              *os.File
	hinted, synced int64         // bytes since the last hint, sync
	kick           chan struct{} // a sync is wanted; nil until the first
	done           chan struct{} // closed when the syncer has returned
	err            error         // the first sync error, read after done
}

func newWriteBehind(f *os.File) *writeBehind { return &writeBehind{f: f} }

func (wb *writeBehind) Write(p []byte) (int, error) {
	wb.hinted += int64(len(p))
	wb.synced += int64(len(p))
	if wb.hinted >= hintEvery {
		wb.hinted = 0
		startWriteback(wb.f)
	}
	if wb.synced >= syncEvery {
		wb.synced = 0
		if wb.kick == nil {
			wb.kick, wb.done = make(chan struct{}, 1), make(chan struct{})
			go wb.syncer()
		}
		select {
		case wb.kick <- struct{}{}:
		default: // one is already pending: it will cover these bytes too
		}
	}
	return len(p), nil
}

func (wb *writeBehind) syncer() {
	defer close(wb.done)
	for range wb.kick {
		if err := wb.f.Sync(); err != nil && wb.err == nil {
			wb.err = err
		}
	}
}

// stop waits for a background sync in flight and returns the first error
// one met. That error must not be dropped: the kernel reports a failed
// write-back to one fsync only, so the Sync before the rename could then
// succeed over lost bytes.
func (wb *writeBehind) stop() error {
	if wb.kick == nil {
		return nil
	}
	close(wb.kick)
	<-wb.done
	return wb.err
}
