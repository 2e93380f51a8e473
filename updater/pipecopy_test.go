package updater

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestPipeCopy(t *testing.T) {
	data := make([]byte, 5<<20+123)
	rand.NewChaCha8([32]byte{9}).Read(data)
	var out bytes.Buffer
	h := sha256.New()
	// OneByteReader-style small reads and a half reader exercise refills.
	n, err := pipeCopy(&out, h, iotest.HalfReader(bytes.NewReader(data)))
	if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("n=%d err=%v equal=%v", n, err, bytes.Equal(out.Bytes(), data))
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("hash differs")
	}
	// A read error mid-way is returned after the bytes before it.
	boom := errors.New("cut")
	out.Reset()
	n, err = pipeCopy(&out, sha256.New(), io.MultiReader(bytes.NewReader(data[:3000]), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || n != 3000 || out.Len() != 3000 {
		t.Fatalf("read error: n=%d err=%v len=%d", n, err, out.Len())
	}
	// A write error stops the copy and is returned.
	wboom := errors.New("disk full")
	_, err = pipeCopy(failWriter{wboom}, sha256.New(), bytes.NewReader(data))
	if !errors.Is(err, wboom) {
		t.Fatalf("write error: %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func BenchmarkPipeCopy(b *testing.B) {
	data := make([]byte, 64<<20)
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		pipeCopy(io.Discard, sha256.New(), bytes.NewReader(data))
	}
}
