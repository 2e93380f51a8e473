//go:build windows

package platform

import (
	"errors"
	"fmt"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// windowsStores is the LocalMachine Root (trust anchors) and CA
// (intermediates) system stores, as every program on the machine (the
// connector's node, through its Windows store reading) sees them.
type windowsStores struct {
	root, ca string
	record   importRecord
	location uint32 // CERT_SYSTEM_STORE_LOCAL_MACHINE
}

func (p *Platform) windowsCertStore() (CertStore, error) {
	return &windowsStores{root: "Root", ca: "CA", location: windows.CERT_SYSTEM_STORE_LOCAL_MACHINE,
		record: importRecord{path: filepath.Join(p.Paths.StateDir, "trusted-cas.txt")}}, nil
}

func (w *windowsStores) Describe() string { return `the LocalMachine Root and CA certificate stores` }

func (w *windowsStores) label(name string) string { return `LocalMachine\` + name }

const certEncoding = windows.X509_ASN_ENCODING | windows.PKCS_7_ASN_ENCODING

func (w *windowsStores) open(name string, readOnly bool) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return 0, err
	}
	flags := w.location
	if readOnly {
		flags |= windows.CERT_STORE_READONLY_FLAG | windows.CERT_STORE_OPEN_EXISTING_FLAG
	}
	h, err := windows.CertOpenStore(windows.CERT_STORE_PROV_SYSTEM, 0, 0, flags, uintptr(unsafe.Pointer(p)))
	if err != nil {
		return 0, fmt.Errorf("open the %s certificate store: %w", w.label(name), err)
	}
	return h, nil
}

// each calls f for every certificate of store name; f returning true
// stops. The context passed is valid during the call only.
func (w *windowsStores) each(h windows.Handle, f func(ctx *windows.CertContext, der []byte) (stop bool, err error)) error {
	var ctx *windows.CertContext
	for {
		next, err := windows.CertEnumCertificatesInStore(h, ctx)
		if next == nil {
			if err != nil && !errors.Is(err, windows.Errno(windows.CRYPT_E_NOT_FOUND)) && !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
				return err
			}
			return nil
		}
		ctx = next
		der := append([]byte(nil), unsafe.Slice(ctx.EncodedCert, ctx.Length)...)
		stop, ferr := f(ctx, der)
		if stop || ferr != nil {
			_ = windows.CertFreeCertificateContext(ctx)
			return ferr
		}
	}
}

func (w *windowsStores) list(name string) ([]StoredCert, error) {
	h, err := w.open(name, true)
	if err != nil {
		return nil, err
	}
	defer windows.CertCloseStore(h, 0)
	var out []StoredCert
	err = w.each(h, func(_ *windows.CertContext, der []byte) (bool, error) {
		out = append(out, StoredCert{DER: der, Store: w.label(name), SHA256: CertSHA256(der)})
		return false, nil
	})
	return out, err
}

func (w *windowsStores) All() ([]StoredCert, error) {
	var out []StoredCert
	for _, n := range []string{w.root, w.ca} {
		l, err := w.list(n)
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	return out, nil
}

func (w *windowsStores) Imported() ([]StoredCert, error) {
	ours, err := w.record.read()
	if err != nil {
		return nil, err
	}
	if len(ours) == 0 {
		return nil, nil
	}
	all, err := w.All()
	if err != nil {
		return nil, err
	}
	var out []StoredCert
	for _, c := range all {
		if ours[c.SHA256] {
			out = append(out, c)
		}
	}
	return out, nil
}

func (w *windowsStores) Add(der []byte, root bool) (bool, string, error) {
	name := w.ca
	if root {
		name = w.root
	}
	fp := CertSHA256(der)
	h, err := w.open(name, false)
	if err != nil {
		return false, w.label(name), err
	}
	defer windows.CertCloseStore(h, 0)
	present := false
	if err := w.each(h, func(_ *windows.CertContext, d []byte) (bool, error) {
		present = CertSHA256(d) == fp
		return present, nil
	}); err != nil {
		return false, w.label(name), err
	}
	if !present {
		ctx, err := windows.CertCreateCertificateContext(certEncoding, &der[0], uint32(len(der)))
		if err != nil {
			return false, w.label(name), fmt.Errorf("parse the certificate for %s: %w", w.label(name), err)
		}
		// USE_EXISTING: a copy another process added meanwhile is kept,
		// never duplicated.
		err = windows.CertAddCertificateContextToStore(h, ctx, windows.CERT_STORE_ADD_USE_EXISTING, nil)
		_ = windows.CertFreeCertificateContext(ctx)
		if err != nil {
			return false, w.label(name), fmt.Errorf("add the certificate to %s: %w", w.label(name), err)
		}
		if err := w.record.update(func(m map[string]bool) { m[fp] = true }); err != nil {
			return true, w.label(name), fmt.Errorf("added to %s, but recording it in %s failed: %w", w.label(name), w.record.path, err)
		}
	}
	return !present, w.label(name), nil
}

func (w *windowsStores) Remove(fp string) ([]string, error) {
	var where []string
	for _, name := range []string{w.root, w.ca} {
		h, err := w.open(name, false)
		if err != nil {
			return where, err
		}
		err = w.each(h, func(ctx *windows.CertContext, der []byte) (bool, error) {
			if CertSHA256(der) != fp {
				return false, nil
			}
			// Delete frees the context it is given: give it a copy and
			// keep enumerating with ours.
			if err := windows.CertDeleteCertificateFromStore(windows.CertDuplicateCertificateContext(ctx)); err != nil {
				return true, fmt.Errorf("remove %s from %s: %w", fp, w.label(name), err)
			}
			where = append(where, w.label(name))
			return false, nil
		})
		windows.CertCloseStore(h, 0)
		if err != nil {
			return where, err
		}
	}
	if err := w.record.update(func(m map[string]bool) { delete(m, fp) }); err != nil {
		return where, err
	}
	return where, nil
}

var _ CertStore = (*windowsStores)(nil)
