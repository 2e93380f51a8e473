package postinstall

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/scrypt"
)

// credential is the service account's password as the connector gets it,
// or the outcome to return when it cannot be had.
type credential struct {
	password string
	source   string // "LDAP_BIND_PASSWORD" or "LDAP_BIND_CREDENTIALS"
	out      *Outcome
}

// bindCredential reads LDAP_BIND_PASSWORD, else decrypts
// LDAP_BIND_CREDENTIALS with AUTH_CERT_KEY or certs/cert.key, as the
// connector's lib/crypto.js does. The password never leaves this value.
func bindCredential(env *Env, s *ldapSettings) credential {
	if s.BindUser == "" {
		o := Failed("LDAP_BIND_USER is not set: the connector binds as it before every search",
			"set LDAP_BIND_USER (and its password through the connector's admin console) in config.json, then restart the connector: adldapctl service restart")
		return credential{out: &o}
	}
	if pw := env.cfgString("LDAP_BIND_PASSWORD", ""); pw != "" {
		return credential{password: pw, source: "LDAP_BIND_PASSWORD"}
	}
	enc := env.cfgString("LDAP_BIND_CREDENTIALS", "")
	if enc == "" {
		o := Failed("neither LDAP_BIND_PASSWORD nor LDAP_BIND_CREDENTIALS is set: the connector has no password for "+s.BindUser,
			"set the service account's password in the connector's admin console (it stores it encrypted as LDAP_BIND_CREDENTIALS), then restart it: adldapctl service restart")
		return credential{out: &o}
	}
	key, keyFrom := []byte(env.cfgString("AUTH_CERT_KEY", "")), "AUTH_CERT_KEY"
	if len(key) == 0 {
		if env.Platform == nil {
			o := Skipped("the bind cannot be checked without decrypting LDAP_BIND_CREDENTIALS, and the install folder (its certs/cert.key) is unknown")
			return credential{out: &o}
		}
		keyFrom = filepath.Join(env.Platform.Paths.InstallDir, "certs", "cert.key")
		var err error
		key, err = os.ReadFile(keyFrom)
		if err != nil {
			o := Skipped(fmt.Sprintf("the bind cannot be checked without decrypting LDAP_BIND_CREDENTIALS, and its key %s cannot be read (%v); the connector cannot decrypt it either", keyFrom, pathErr(err)))
			return credential{out: &o}
		}
	}
	pw, err := decryptBindCredentials(enc, key)
	if err != nil {
		o := Failed(fmt.Sprintf("LDAP_BIND_CREDENTIALS does not decrypt with %s (%v): the connector fails the same way at start", keyFrom, err),
			"certs/cert.key was replaced since the password was stored: set the service account's password again in the connector's admin console, then restart it: adldapctl service restart")
		return credential{out: &o}
	}
	if pw == "" {
		o := Failed("LDAP_BIND_CREDENTIALS decrypts to an empty password: the connector's bind for "+s.BindUser+" would be unauthenticated and its searches fail",
			"set the service account's password again in the connector's admin console, then restart it: adldapctl service restart")
		return credential{out: &o}
	}
	return credential{password: pw, source: "LDAP_BIND_CREDENTIALS"}
}

// decryptBindCredentials decrypts the connector's stored bind password:
// "$2$.<salt hex>.<iv hex>.<ciphertext hex>" is AES-256-CBC under
// scrypt(key, salt) (Node's defaults N=16384, r=8, p=1); anything else is
// the v1 format, AES-256-CBC under OpenSSL's EVP_BytesToKey(MD5, no salt).
func decryptBindCredentials(enc string, rawKey []byte) (string, error) {
	var key, iv, ct []byte
	var err error
	if parts := strings.Split(enc, "."); parts[0] == "$2$" {
		if len(parts) != 4 {
			return "", errors.New("malformed v2 value")
		}
		salt, err1 := hex.DecodeString(parts[1])
		iv, err = hex.DecodeString(parts[2])
		if err1 != nil || err != nil {
			return "", errors.New("malformed v2 value")
		}
		if key, err = scrypt.Key(rawKey, salt, 16384, 8, 1, 32); err != nil {
			return "", err
		}
		enc = parts[3]
	} else {
		key, iv = evpBytesToKey(rawKey, 32, aes.BlockSize)
	}
	if ct, err = hex.DecodeString(enc); err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 || len(iv) != aes.BlockSize {
		return "", errors.New("malformed ciphertext")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	out := make([]byte, len(ct))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, ct)
	n := int(out[len(out)-1])
	if n == 0 || n > aes.BlockSize || !bytes.Equal(out[len(out)-n:], bytes.Repeat([]byte{byte(n)}, n)) {
		return "", errors.New("bad decrypt (wrong key)")
	}
	return string(out[:len(out)-n]), nil
}

// evpBytesToKey is OpenSSL's EVP_BytesToKey with MD5, one round, no salt.
func evpBytesToKey(pass []byte, keyLen, ivLen int) (key, iv []byte) {
	var d, prev []byte
	for len(d) < keyLen+ivLen {
		h := md5.New()
		h.Write(prev)
		h.Write(pass)
		prev = h.Sum(nil)
		d = append(d, prev...)
	}
	return d[:keyLen], d[keyLen : keyLen+ivLen]
}

// pathErr is err without the path a *fs.PathError repeats.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
