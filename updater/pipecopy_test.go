package updater

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

func TestPipeCopy(t *testing.T) {
	// More than the ring holds, so buffers are reused while in flight.
	data := make([]byte, 20<<20+123)
	rand.NewChaCha8([32]byte{9}).Read(data)
	var out bytes.Buffer
	h := sha256.New()
	// Half reads exercise refills of each buffer.
	n, err := pipeCopy(&out, h, iotest.HalfReader(bytes.NewReader(data)))
	if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("n=%d err=%v equal=%v", n, err, bytes.Equal(out.Bytes(), data))
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("hash differs")
	}
	// A read error mid-way is returned after the bytes before it, all
	// written and hashed: a retry continues from there.
	boom := errors.New("cut")
	out.Reset()
	h.Reset()
	n, err = pipeCopy(&out, h, io.MultiReader(bytes.NewReader(data[:3000]), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || n != 3000 || out.Len() != 3000 {
		t.Fatalf("read error: n=%d err=%v len=%d", n, err, out.Len())
	}
	if want := sha256.Sum256(data[:3000]); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("read error: hash differs from the bytes written")
	}
	// A write error stops the copy and is returned with the bytes written.
	wboom := errors.New("disk full")
	n, err = pipeCopy(&failWriter{left: 5 << 20, err: wboom}, sha256.New(), bytes.NewReader(data))
	if !errors.Is(err, wboom) || n != 5<<20 {
		t.Fatalf("write error: n=%d err=%v", n, err)
	}
	// An empty body.
	n, err = pipeCopy(io.Discard, h, bytes.NewReader(nil))
	if err != nil || n != 0 {
		t.Fatalf("empty: n=%d err=%v", n, err)
	}
}

// failWriter takes left bytes, then fails.
type failWriter struct {
	left int
	err  error
}

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) <= f.left {
		f.left -= len(p)
		return len(p), nil
	}
	n := f.left
	f.left = 0
	return n, f.err
}

// TestWriteBehind: write-back hints and background syncs change nothing
// about what lands in the file, and a failed background sync is reported.
func TestWriteBehind(t *testing.T) {
	data := make([]byte, 2*syncEvery+123)
	rand.NewChaCha8([32]byte{7}).Read(data)
	f, err := os.Create(filepath.Join(t.TempDir(), "x.partial"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	wb := newWriteBehind(f)
	n, err := pipeCopy(io.MultiWriter(f, wb), h, bytes.NewReader(data))
	if err := wb.stop(); err != nil {
		t.Fatalf("background sync: %v", err)
	}
	if err != nil || n != int64(len(data)) {
		t.Fatalf("n=%d err=%v", n, err)
	}
	got, err := os.ReadFile(f.Name())
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("file differs (err %v)", err)
	}
	if err := newWriteBehind(f).stop(); err != nil {
		t.Fatalf("stop with nothing written: %v", err)
	}

	// A sync that fails (here: the file is closed) comes back from stop.
	f.Close()
	wb = newWriteBehind(f)
	wb.Write(make([]byte, syncEvery))
	if err := wb.stop(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("failed sync: got %v, want os.ErrClosed", err)
	}
}

func BenchmarkPipeCopy(b *testing.B) {
	data := make([]byte, 64<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		pipeCopy(io.Discard, sha256.New(), bytes.NewReader(data))
	}
}
