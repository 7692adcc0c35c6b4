// Package certfile serves a TLS certificate and its private key from PEM
// files and re-reads them when they change, so that a renewal written by
// certbot, cert-manager or an operator takes effect on the next handshake
// without a restart.
//
// A change is noticed by the files' identity, size and modification time
// (one os.Stat of each file a handshake, far cheaper than the handshake
// itself). A new pair that does not load (a file half written, a key that
// does not match its certificate) is not served: the previous pair stays in
// use, and a warning is logged once for that state of the files.
package certfile

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Error is a problem with one of the two files: File names it (the
// certificate's or the key's path, as given to Load), and Key says it is
// the key file.
type Error struct {
	File string
	Key  bool
	Err  error
}

func (e *Error) Error() string { return e.File + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// Pair is a certificate and key loaded from files, reloaded when they
// change. Its GetCertificate goes in a tls.Config. It is safe for
// concurrent use.
type Pair struct {
	certFile, keyFile string
	log               *slog.Logger

	mu     sync.Mutex
	cert   *tls.Certificate
	loaded stamp // the files' state cert was read from
	failed stamp // the last state that did not load; warned about once
	// missingWarned: a file is missing, and that was logged.
	missingWarned bool
}

// stamp is what tells that a file changed: its identity (a new file
// renamed over it, or a symbolic link pointed elsewhere, as Kubernetes
// does with a secret's files), size and modification time.
type stamp struct {
	cert, key fs.FileInfo
}

func (s stamp) same(o stamp) bool {
	return sameFile(s.cert, o.cert) && sameFile(s.key, o.key)
}

func sameFile(a, b fs.FileInfo) bool {
	if a == nil || b == nil {
		return a == b
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Load reads the certificate chain (PEM, leaf first) from certFile and its
// private key (PEM) from keyFile. An error is an *Error naming the file at
// fault. log receives the reloads and the warnings about new files that
// do not load; it never receives key material.
func Load(certFile, keyFile string, log *slog.Logger) (*Pair, error) {
	p := &Pair{certFile: certFile, keyFile: keyFile, log: log}
	st, err := p.stat()
	if err != nil {
		return nil, err
	}
	cert, err := p.read()
	if err != nil {
		return nil, err
	}
	p.cert, p.loaded = cert, st
	return p, nil
}

// GetCertificate returns the current certificate, re-reading the files
// first if they changed since they were last read. It is meant for
// tls.Config.GetCertificate; it never fails once Load succeeded.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return p.Certificate(), nil
}

// Certificate is GetCertificate without the handshake: the current
// certificate, its Leaf parsed.
func (p *Pair) Certificate() *tls.Certificate {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, err := p.stat()
	if err != nil {
		// Gone for now (being replaced, say): keep serving what we have
		// and look again at the next handshake.
		if !p.missingWarned {
			p.missingWarned = true
			p.warn(err)
		}
		return p.cert
	}
	p.missingWarned = false
	if st.same(p.loaded) || p.failed.cert != nil && st.same(p.failed) {
		return p.cert
	}
	cert, err := p.read()
	if err != nil {
		p.failed = st
		p.warn(err)
		return p.cert
	}
	// The files may have changed again between the stat and the read:
	// then the next handshake finds them changed and reads them again.
	p.cert, p.loaded, p.failed = cert, st, stamp{}
	p.log.Info("tls: certificate files changed; serving the new certificate",
		"cert_file", p.certFile, "subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	return p.cert
}

// warn says that the files changed but do not load.
func (p *Pair) warn(err error) {
	p.log.Warn("tls: the certificate files changed but do not load; still serving the previous certificate",
		"cert_file", p.certFile, "key_file", p.keyFile, "err", err)
}

// stat returns the files' current state.
func (p *Pair) stat() (stamp, error) {
	c, err := os.Stat(p.certFile)
	if err != nil {
		return stamp{}, &Error{File: p.certFile, Err: unwrapPath(err)}
	}
	k, err := os.Stat(p.keyFile)
	if err != nil {
		return stamp{}, &Error{File: p.keyFile, Key: true, Err: unwrapPath(err)}
	}
	return stamp{cert: c, key: k}, nil
}

// read reads and parses the pair, blaming the file at fault.
func (p *Pair) read() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(p.certFile)
	if err != nil {
		return nil, &Error{File: p.certFile, Err: unwrapPath(err)}
	}
	keyPEM, err := os.ReadFile(p.keyFile)
	if err != nil {
		return nil, &Error{File: p.keyFile, Key: true, Err: unwrapPath(err)}
	}
	if err := checkChain(certPEM); err != nil {
		return nil, &Error{File: p.certFile, Err: err}
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The chain parsed: the key is at fault (not PEM, not a key,
		// or not the certificate's). tls's messages quote no key bytes.
		return nil, &Error{File: p.keyFile, Key: true, Err: err}
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, &Error{File: p.certFile, Err: err}
		}
	}
	return &cert, nil
}

// checkChain checks that certPEM holds at least one certificate and that
// every CERTIFICATE block parses.
func checkChain(certPEM []byte) error {
	n := 0
	for rest := certPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			if b.Type == "PRIVATE KEY" || len(b.Type) > 12 && b.Type[len(b.Type)-12:] == " PRIVATE KEY" {
				return errors.New("holds a private key: put the certificate here and the key in the key file")
			}
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return fmt.Errorf("certificate %d: %v", n+1, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
	}
	return nil
}

// unwrapPath drops the operation and path of an *fs.PathError: Error
// names the file.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
