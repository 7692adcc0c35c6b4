// Package browsertest holds gatehouse's browser tests of its pages: the
// whole journey of issue 14 (first-run setup to a disabled invitee),
// the cross-site attack on every form, keyboard-only login, axe-core on
// every page in light and dark mode, and the screenshots of the README.
//
// They are one package of their own so that they run as one unit and
// share one chromium (started once by TestMain, each test in a fresh
// browser context: cookies and storage of its own). They drive Debian's
// /usr/bin/chromium through chromedp, and skip when it is absent.
//
// The server is the one `gatehouse serve` runs: server.Open with its
// SQLite store in a temporary directory, behind an http.Server on a
// loopback port, its mail sent to a real SMTP server (go-smtp) in the
// test. Package main's in-process `gatehouse serve` (cmd/gatehouse)
// would add only the YAML parsing, which its own tests cover, while a
// package of its own keeps this suite's run short and separate, and
// lets it read the setup link from server.Gatehouse.SetupURL and the
// log directly.
//
// The package has no code outside its tests.
package browsertest
