package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/account"
	"github.com/gatehouse/gatehouse/password"
)

// importBatch is how many rows the import reads between writes: each batch
// is one CreateUsers call, so one transaction and one fsync.
const importBatch = 1000

// cmdImport is `gatehouse import users FILE [--format csv|json] [--dry-run]`.
//
// FILE is CSV or JSON (see csvSource and jsonSource); "-" is standard input,
// which needs --format. Each row becomes a user with a new id and security
// stamp, active with the password hash it brings (kept as it is, verified at
// login and then replaced by an argon2id hash), or invited when it brings
// none. A bad row is reported as FILE:LINE: field: problem and skipped; the
// others are imported.
func cmdImport(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "users" {
		return usagef("import: expected users (gatehouse import users FILE)")
	}
	fs := newFlagSet("import users", stdout)
	var cf commonFlags
	cf.register(fs)
	format := fs.String("format", "", "the file's format, csv or json (default: from its extension; required for -)")
	dryRun := fs.Bool("dry-run", false, "check the file, and the users against the database, without writing anything")
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("import users: expected one FILE (or - for standard input)")
	}
	file := pos[0]

	f := strings.ToLower(*format)
	switch {
	case f == "" && file == "-":
		return usagef("import users: --format csv or --format json is required to read standard input")
	case f == "":
		f = strings.TrimPrefix(strings.ToLower(filepath.Ext(file)), ".")
		if f != "csv" && f != "json" {
			return usagef("import users: cannot tell the format of %s from its extension; give --format csv or --format json", file)
		}
	case f != "csv" && f != "json":
		return usagef("import users: unknown format %q (csv or json)", *format)
	}

	name, in := "stdin", stdin
	if file != "-" {
		fh, err := os.Open(file)
		if errors.Is(err, iofs.ErrNotExist) {
			return usagef("import users: %v", err)
		}
		if err != nil {
			return fmt.Errorf("import users: %w", err)
		}
		defer fh.Close()
		name, in = file, fh
	}
	// The file is checked as far as its header before the database is
	// opened, so a wrong file changes nothing.
	src, err := newSource(f, in)
	if err != nil {
		var fe *fileError
		if errors.As(err, &fe) {
			return fmt.Errorf("%s:%d: %s", name, fe.line, fe.msg)
		}
		return fmt.Errorf("read %s: %w", name, err)
	}

	s, err := loadSettings(cf, "", getenv)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, s, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()

	im := &importer{
		name:   name,
		dryRun: *dryRun,
		store:  a.Store,
		audit:  a.Store,
		fields: src.fieldNames(),
		stdout: stdout,
		prog:   newProgress(stderr, name),
		now:    time.Now,
	}
	return im.run(ctx, src)
}

// problem is what is wrong with one field of a row.
type problem struct {
	line         int
	field, issue string
}

// fileError is a problem with the file as a whole, at a line: a CSV header
// that cannot be used, or JSON that cannot be read on.
type fileError struct {
	line int
	msg  string
}

func (e *fileError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// importRow is one row of the file, as read.
type importRow struct {
	line                  int
	username, email, name string
	groups                []string
	hash, format          string
	// scheme is the scheme of hash, once checked.
	scheme password.Scheme
	// problems are those found while reading the row (a CSV row of the
	// wrong width, a JSON field of the wrong type); such a row is skipped.
	problems []problem
}

// rowFields names a row's password fields as the file spells them.
type rowFields struct{ hash, format string }

// source reads the rows of a file.
type source interface {
	// next returns the next row, io.EOF after the last, or an error that
	// ends the import (a *fileError when the file cannot be read on).
	next() (*importRow, error)
	fieldNames() rowFields
}

func newSource(format string, r io.Reader) (source, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	// A UTF-8 byte order mark, which spreadsheets like to write, is not
	// part of the first column's name.
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		br.Discard(3)
	}
	if format == "json" {
		return newJSONSource(br)
	}
	return newCSVSource(br)
}

// The CSV columns, by their lower-case names and the JSON spellings of the
// password columns, which are accepted too.
var csvColumns = map[string]string{
	"username":        "username",
	"email":           "email",
	"name":            "name",
	"groups":          "groups",
	"password_hash":   "password_hash",
	"passwordhash":    "password_hash",
	"password_format": "password_format",
	"passwordformat":  "password_format",
}

const csvColumnList = "username, email, name, groups, password_hash, password_format"

// csvSource reads CSV with a header row naming its columns: username and
// email, and optionally name, groups (separated by ";" or "|"),
// password_hash and password_format, in any order and any case.
type csvSource struct {
	r     *csv.Reader
	col   map[string]int // canonical column name → index
	width int
}

func newCSVSource(r io.Reader) (*csvSource, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &fileError{line: 1, msg: "empty file: expected a header row naming the columns (" + csvColumnList + ")"}
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return nil, &fileError{line: pe.Line, msg: "header: " + pe.Err.Error()}
	}
	if err != nil {
		return nil, err
	}
	c := &csvSource{r: cr, col: map[string]int{}, width: len(header)}
	for i, h := range header {
		key := strings.ToLower(strings.TrimSpace(h))
		canon, ok := csvColumns[key]
		if !ok {
			return nil, &fileError{line: 1, msg: fmt.Sprintf("header: unknown column %q (the columns are %s)", h, csvColumnList)}
		}
		if _, dup := c.col[canon]; dup {
			return nil, &fileError{line: 1, msg: fmt.Sprintf("header: column %s appears twice", canon)}
		}
		c.col[canon] = i
	}
	for _, need := range []string{"username", "email"} {
		if _, ok := c.col[need]; !ok {
			return nil, &fileError{line: 1, msg: fmt.Sprintf("header: no %s column (the columns are %s)", need, csvColumnList)}
		}
	}
	return c, nil
}

func (c *csvSource) fieldNames() rowFields { return rowFields{"password_hash", "password_format"} }

func (c *csvSource) next() (*importRow, error) {
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// The reader goes on after a bad record, so only the row is lost.
		row := &importRow{line: pe.StartLine}
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			row.problems = []problem{{pe.StartLine, "row", fmt.Sprintf("%d fields, but the header has %d", len(rec), c.width)}}
		} else {
			row.problems = []problem{{pe.StartLine, "row", fmt.Sprintf("%v (line %d, column %d)", pe.Err, pe.Line, pe.Column)}}
		}
		return row, nil
	}
	if err != nil {
		return nil, err
	}
	line, _ := c.r.FieldPos(0)
	get := func(col string) string {
		if i, ok := c.col[col]; ok {
			return rec[i]
		}
		return ""
	}
	return &importRow{
		line:     line,
		username: get("username"),
		email:    get("email"),
		name:     get("name"),
		groups: strings.FieldsFunc(get("groups"), func(r rune) bool {
			return r == ';' || r == '|'
		}),
		hash:   get("password_hash"),
		format: get("password_format"),
	}, nil
}

// jsonUser is one element of a JSON import: an object with exactly these
// members, all optional but username and email.
type jsonUser struct {
	Username       string   `json:"username"`
	Email          string   `json:"email"`
	Name           string   `json:"name"`
	Groups         []string `json:"groups"`
	PasswordHash   string   `json:"passwordHash"`
	PasswordFormat string   `json:"passwordFormat"`
}

const jsonFieldList = "username, email, name, groups, passwordHash, passwordFormat"

// jsonSource reads a JSON array of user objects one element at a time, so a
// large file is never held in memory whole. Each row's line is the line of
// the object's opening brace.
type jsonSource struct {
	dec   *json.Decoder
	lines *lineCounter
	done  bool
}

func newJSONSource(r io.Reader) (*jsonSource, error) {
	lc := &lineCounter{r: r, line: 1}
	j := &jsonSource{dec: json.NewDecoder(lc), lines: lc}
	tok, err := j.dec.Token()
	if errors.Is(err, io.EOF) {
		return nil, &fileError{line: 1, msg: "empty file: expected a JSON array of users"}
	}
	if err != nil {
		return nil, j.syntaxError(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, &fileError{line: lc.lineAt(j.dec.InputOffset()), msg: "expected a JSON array of users, [ {...}, ... ]"}
	}
	return j, nil
}

func (j *jsonSource) fieldNames() rowFields { return rowFields{"passwordHash", "passwordFormat"} }

// syntaxError turns an error of the decoder into a fileError at its line.
func (j *jsonSource) syntaxError(err error) error {
	off := j.dec.InputOffset()
	var se *json.SyntaxError
	if errors.As(err, &se) {
		off = se.Offset
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &fileError{line: j.lines.lineAt(j.lines.off), msg: "invalid JSON: unexpected end of file; the rest of the file was not read"}
	}
	if se == nil {
		return err // reading failed
	}
	return &fileError{line: j.lines.lineAt(off), msg: "invalid JSON: " + err.Error() + "; the rest of the file was not read"}
}

func (j *jsonSource) next() (*importRow, error) {
	if j.done {
		return nil, io.EOF
	}
	if !j.dec.More() {
		if _, err := j.dec.Token(); err != nil { // the closing ]
			return nil, j.syntaxError(err)
		}
		j.done = true
		if _, err := j.dec.Token(); !errors.Is(err, io.EOF) {
			return nil, &fileError{line: j.lines.lineAt(j.dec.InputOffset()), msg: "unexpected data after the array"}
		}
		return nil, io.EOF
	}
	var raw json.RawMessage
	if err := j.dec.Decode(&raw); err != nil {
		return nil, j.syntaxError(err)
	}
	row := &importRow{line: j.lines.lineAt(j.dec.InputOffset() - int64(len(raw)))}
	if raw[0] != '{' {
		row.problems = []problem{{row.line, "row", "expected an object with " + jsonFieldList}}
		return row, nil
	}
	var u jsonUser
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&u); err != nil {
		row.problems = []problem{jsonProblem(row.line, err)}
		return row, nil
	}
	row.username, row.email, row.name = u.Username, u.Email, u.Name
	row.groups, row.hash, row.format = u.Groups, u.PasswordHash, u.PasswordFormat
	return row, nil
}

// jsonProblem describes a JSON element that does not decode into a user.
func jsonProblem(line int, err error) problem {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// The problem names the column: Go 1.27 adds the element's index
		// to Field ("groups.1"), Go 1.26 does not ("groups").
		field, _, _ := strings.Cut(te.Field, ".")
		if field == "" {
			field = "row"
		}
		want := "a string"
		if te.Type.Kind() == reflect.Slice {
			want = "an array of strings"
		}
		return problem{line, field, fmt.Sprintf("expected %s, not a JSON %s", want, te.Value)}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		f, _ = strconv.Unquote(f)
		return problem{line, f, "unknown field (the fields are " + jsonFieldList + ")"}
	}
	return problem{line, "row", err.Error()}
}

// lineCounter passes reads through and remembers where the newlines are,
// so that a byte offset of the decoder can be turned into a line number.
// Offsets asked about must not decrease; only the newlines past the last
// one asked about are kept.
type lineCounter struct {
	r    io.Reader
	off  int64   // bytes read
	nl   []int64 // offsets of newlines at or after the last offset asked about
	line int     // the line of the last offset asked about
}

func (l *lineCounter) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i := 0; i < n; {
		k := bytes.IndexByte(p[i:n], '\n')
		if k < 0 {
			break
		}
		l.nl = append(l.nl, l.off+int64(i+k))
		i += k + 1
	}
	l.off += int64(n)
	return n, err
}

// lineAt returns the 1-based line of byte offset off.
func (l *lineCounter) lineAt(off int64) int {
	i := 0
	for i < len(l.nl) && l.nl[i] < off {
		i++
	}
	l.line += i
	l.nl = l.nl[i:]
	return l.line
}

// importStore is what the import needs of the store. A store that is also
// a gatehouse.UserBatchCreator gets the users in batches.
type importStore interface {
	Groups(ctx context.Context) ([]*gatehouse.Group, error)
	UserByLogin(ctx context.Context, login string) (*gatehouse.User, error)
	CreateUser(ctx context.Context, u *gatehouse.User) error
}

// pendingUser is a row that passed every check the import makes itself,
// waiting for its batch to be written.
type pendingUser struct {
	row    *importRow
	user   *gatehouse.User
	scheme password.Scheme // "" for an invited user
}

// seenKey is where a username or email (folded) first appeared in the file.
type seenKey struct {
	line  int
	field string
}

// importer runs one import.
type importer struct {
	name   string
	dryRun bool
	store  importStore
	audit  gatehouse.AuditStore // nil: no audit event
	fields rowFields
	stdout io.Writer
	prog   *progress
	now    func() time.Time

	groups   map[string]bool
	seen     map[string]seenKey
	pending  []pendingUser
	problems []problem // of the rows since the last flush

	rows, imported, skipped, active, invited int
	schemes                                  map[password.Scheme]int
}

// run imports every row of src, then prints the summary. It fails when a
// row was skipped, the file could not be read to its end, or the database
// failed.
func (im *importer) run(ctx context.Context, src source) error {
	groups, err := im.store.Groups(ctx)
	if err != nil {
		return err
	}
	im.groups = map[string]bool{}
	for _, g := range groups {
		im.groups[g.Name] = true
	}
	im.seen = map[string]seenKey{}
	im.schemes = map[password.Scheme]int{}

	// readErr ends the reading, dbErr the writing; the rows read before
	// a read error are still written.
	var readErr, dbErr error
	for {
		row, err := src.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		im.rows++
		im.check(row)
		batch := im.rows%importBatch == 0
		if batch {
			if dbErr = ctx.Err(); dbErr != nil {
				break
			}
			if dbErr = im.flush(ctx); dbErr != nil {
				break
			}
		}
		im.prog.update(im.rows, im.imported, im.skipped, batch)
	}
	if dbErr == nil {
		dbErr = im.flush(ctx)
	}
	im.prog.done(im.rows, im.imported, im.skipped)

	var fe *fileError
	if errors.As(readErr, &fe) {
		im.prog.printf("%s:%d: %s\n", im.name, fe.line, fe.msg)
	}
	im.summary()
	// One audit event for the import, naming the file and the counts:
	// an event per user would cost a transaction per user.
	var auditErr error
	if !im.dryRun && im.imported > 0 && im.audit != nil {
		e := &gatehouse.AuditEvent{
			ID:   gatehouse.NewID(),
			Time: im.now().UTC(),
			Kind: gatehouse.AuditUserCreated,
			Detail: map[string]string{
				"import":  filepath.Base(im.name),
				"users":   strconv.Itoa(im.imported),
				"active":  strconv.Itoa(im.active),
				"invited": strconv.Itoa(im.invited),
			},
		}
		if err := im.audit.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
			auditErr = fmt.Errorf("import users: writing the audit log: %w", err)
		}
	}
	switch {
	case dbErr != nil:
		err = fmt.Errorf("import users: %w", dbErr)
	case fe != nil:
		err = fmt.Errorf("import users: stopped at %s:%d", im.name, fe.line)
	case readErr != nil:
		err = fmt.Errorf("import users: read %s: %w", im.name, readErr)
	case im.skipped > 0:
		err = fmt.Errorf("import users: %s of %s skipped", commas(im.skipped), plural(im.rows, "row"))
	}
	return errors.Join(err, auditErr)
}

// check makes every check of a row that needs no database and either
// records its problems or queues it for writing.
func (im *importer) check(row *importRow) {
	probs := row.problems
	add := func(field, issue string) { probs = append(probs, problem{row.line, field, issue}) }
	if len(probs) == 0 {
		identity := account.ValidateIdentity(row.username, row.email, row.name)
		for _, f := range []string{"username", "email", "name"} {
			if issue, ok := identity[f]; ok {
				add(f, issue)
			}
		}

		groups := slices.Clone(row.groups)
		for i := range groups {
			groups[i] = strings.TrimSpace(groups[i])
		}
		groups = slices.DeleteFunc(groups, func(g string) bool { return g == "" })
		slices.Sort(groups)
		groups = slices.Compact(groups)
		var unknown []string
		for _, g := range groups {
			if !im.groups[g] {
				unknown = append(unknown, strconv.Quote(g))
			}
		}
		if len(unknown) > 0 {
			add("groups", "no such group "+strings.Join(unknown, ", "))
		}
		row.groups = groups

		// A row without a hash is an invited user, whatever its format
		// says: exports give every user the site's format.
		if row.hash != "" {
			encoded, scheme, field, issue := storedHash(row.hash, row.format, im.fields)
			if issue != "" {
				add(field, issue)
			}
			row.hash, row.scheme = encoded, scheme
		}

		// Duplicates within the file, among the rows that are otherwise
		// fine: a username or email may appear once, as either.
		if len(probs) == 0 {
			uk, ek := foldKey(row.username), foldKey(row.email)
			if s, ok := im.seen[uk]; ok {
				add("username", fmt.Sprintf("duplicate of the %s on line %d", s.field, s.line))
			}
			if s, ok := im.seen[ek]; ok && ek != uk {
				add("email", fmt.Sprintf("duplicate of the %s on line %d", s.field, s.line))
			}
			if len(probs) == 0 {
				im.seen[uk] = seenKey{row.line, "username"}
				if ek != uk {
					im.seen[ek] = seenKey{row.line, "email"}
				}
			}
		}
	}
	if len(probs) > 0 {
		im.skipped++
		im.problems = append(im.problems, probs...)
		return
	}

	now := im.now().UTC()
	u := &gatehouse.User{
		ID:            gatehouse.NewID(),
		Username:      row.username,
		Email:         row.email,
		Name:          row.name,
		State:         gatehouse.StateActive,
		PasswordHash:  row.hash,
		SecurityStamp: gatehouse.NewID(),
		Groups:        row.groups,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if row.hash == "" {
		u.State = gatehouse.StateInvited
	}
	im.pending = append(im.pending, pendingUser{row: row, user: u, scheme: row.scheme})
}

// hashFormats are the password_format values: the prefix that makes a
// hash of that format the encoding password.Identify reads, or the scheme
// a self-describing hash must have. Names are matched without regard to
// case.
var hashFormats = map[string]struct {
	prefix string
	scheme password.Scheme
}{
	// ASP.NET Core Identity, and Umbraco's names for it. The version byte
	// inside the hash decides between V2 and V3, as it does for ASP.NET,
	// whose verifier accepts both in either compatibility mode.
	"pbkdf2.aspnetcore.v2": {prefix: "$aspnet-identity$"},
	"pbkdf2.aspnetcore.v3": {prefix: "$aspnet-identity$"},
	"aspnet-identity":      {prefix: "$aspnet-identity$"},
	"aspnet-v2":            {prefix: "$aspnet-identity$"},
	"aspnet-v3":            {prefix: "$aspnet-identity$"},
	// Umbraco's legacy membership provider.
	"hmacsha256":         {prefix: "$umbraco-hmacsha256$"},
	"umbraco-hmacsha256": {prefix: "$umbraco-hmacsha256$"},
	"hmacsha1":           {prefix: "$umbraco-hmacsha1$"},
	"umbraco-hmacsha1":   {prefix: "$umbraco-hmacsha1$"},
	// Self-describing hashes.
	"":                     {},
	"bcrypt":               {scheme: password.SchemeBcrypt},
	"argon2id":             {scheme: password.SchemeArgon2id},
	"pbkdf2-sha256":        {scheme: password.SchemePBKDF2SHA256},
	"pbkdf2-sha512":        {scheme: password.SchemePBKDF2SHA512},
	"django":               {scheme: password.SchemeDjangoPBKDF2SHA256},
	"pbkdf2_sha256":        {scheme: password.SchemeDjangoPBKDF2SHA256},
	"django-pbkdf2-sha256": {scheme: password.SchemeDjangoPBKDF2SHA256},
}

const hashFormatList = "PBKDF2.ASPNETCORE.V2, PBKDF2.ASPNETCORE.V3, HMACSHA256, HMACSHA1, bcrypt, argon2id, pbkdf2-sha256, pbkdf2-sha512, django"

// storedHash returns the encoding to store for a hash given in the format
// format, and its scheme; or the field at fault and what is wrong.
func storedHash(hash, format string, names rowFields) (encoded string, scheme password.Scheme, field, issue string) {
	f, ok := hashFormats[strings.ToLower(strings.TrimSpace(format))]
	if !ok {
		return "", "", names.format, fmt.Sprintf("unknown format %q (known: %s)", format, hashFormatList)
	}
	encoded = hash
	if f.prefix != "" && !strings.HasPrefix(hash, f.prefix) {
		encoded = f.prefix + hash
	}
	scheme, err := password.Identify(encoded)
	if err != nil {
		if format == "" && !strings.HasPrefix(hash, "$") && !strings.HasPrefix(hash, "pbkdf2_sha256$") {
			return "", "", names.hash, fmt.Sprintf("not a self-describing hash; give its %s (%s)", names.format, hashFormatList)
		}
		return "", "", names.hash, strings.TrimPrefix(err.Error(), "password: ")
	}
	if f.scheme != "" && scheme != f.scheme {
		return "", "", names.format, fmt.Sprintf("%s, but the hash is %s", format, scheme)
	}
	return encoded, scheme, "", ""
}

// flush writes the pending users (in a dry run, checks them against the
// database) and reports the problems of the rows since the last flush, in
// line order. It fails only when the database does.
func (im *importer) flush(ctx context.Context) error {
	var (
		done int // pending users dealt with
		err  error
	)
	switch bc, ok := im.store.(gatehouse.UserBatchCreator); {
	case len(im.pending) == 0:
	case im.dryRun:
		for _, p := range im.pending {
			probs, cerr := im.conflicts(ctx, p.row)
			if cerr != nil {
				err = cerr
				break
			}
			im.result(p, probs)
			done++
		}
	case ok:
		users := make([]*gatehouse.User, len(im.pending))
		for i, p := range im.pending {
			users[i] = p.user
		}
		for i, uerr := range bc.CreateUsers(ctx, users) {
			if err = im.stored(ctx, im.pending[i], uerr); err != nil {
				break
			}
			done++
		}
	default:
		for _, p := range im.pending {
			if err = im.stored(ctx, p, im.store.CreateUser(ctx, p.user)); err != nil {
				break
			}
			done++
		}
	}
	im.pending = im.pending[:0]
	sort.SliceStable(im.problems, func(i, j int) bool { return im.problems[i].line < im.problems[j].line })
	for _, p := range im.problems {
		im.prog.printf("%s:%d: %s: %s\n", im.name, p.line, p.field, p.issue)
	}
	im.problems = im.problems[:0]
	return err
}

// stored records the outcome of writing one user: imported, refused (the
// row is skipped), or a failure of the database, which it returns.
func (im *importer) stored(ctx context.Context, p pendingUser, err error) error {
	var ge *gatehouse.Error
	switch {
	case err == nil:
		im.result(p, nil)
	case errors.As(err, &ge) && ge.Code == gatehouse.CodeConflict:
		probs, cerr := im.conflicts(ctx, p.row)
		if cerr != nil {
			return cerr
		}
		if len(probs) == 0 { // the other user has gone again
			probs = []problem{{p.row.line, "row", ge.Message}}
		}
		im.result(p, probs)
	case errors.As(err, &ge) && ge.Code == gatehouse.CodeValidation:
		var probs []problem
		for f, issue := range ge.Fields {
			probs = append(probs, problem{p.row.line, f, issue})
		}
		sort.Slice(probs, func(i, j int) bool { return probs[i].field < probs[j].field })
		if len(probs) == 0 {
			probs = []problem{{p.row.line, "row", ge.Message}}
		}
		im.result(p, probs)
	default:
		return err
	}
	return nil
}

// result counts a pending user as imported, or as skipped with probs.
func (im *importer) result(p pendingUser, probs []problem) {
	if len(probs) > 0 {
		im.skipped++
		im.problems = append(im.problems, probs...)
		return
	}
	im.imported++
	if p.user.State == gatehouse.StateInvited {
		im.invited++
	} else {
		im.active++
		im.schemes[p.scheme]++
	}
}

// conflicts returns the problems of a row whose username or email is
// already a username or email in the database, naming the user who has it.
func (im *importer) conflicts(ctx context.Context, row *importRow) ([]problem, error) {
	var probs []problem
	for _, f := range []struct{ field, value string }{{"username", row.username}, {"email", row.email}} {
		if f.field == "email" && foldKey(row.email) == foldKey(row.username) {
			continue
		}
		u, err := im.store.UserByLogin(ctx, f.value)
		if errors.Is(err, gatehouse.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		probs = append(probs, problem{row.line, f.field, fmt.Sprintf("%q is taken by existing user %q", f.value, u.Username)})
	}
	return probs, nil
}

// summary prints what the import did to stdout.
func (im *importer) summary() {
	verb, rest := "imported", ""
	if im.dryRun {
		verb, rest = "dry run: would import", "; nothing was written"
	}
	skipped := plural(im.skipped, "row")
	if im.skipped > 0 {
		skipped += " (see above)"
	}
	fmt.Fprintf(im.stdout, "%s %s (active %s, invited %s), skipped %s%s\n",
		verb, plural(im.imported, "user"), commas(im.active), commas(im.invited), skipped, rest)
	if len(im.schemes) > 0 {
		type count struct {
			scheme password.Scheme
			n      int
		}
		var counts []count
		for s, n := range im.schemes {
			counts = append(counts, count{s, n})
		}
		sort.Slice(counts, func(i, j int) bool {
			if counts[i].n != counts[j].n {
				return counts[i].n > counts[j].n
			}
			return counts[i].scheme < counts[j].scheme
		})
		parts := make([]string, len(counts))
		for i, c := range counts {
			parts[i] = string(c.scheme) + " " + commas(c.n)
		}
		fmt.Fprintf(im.stdout, "password hashes: %s\n", strings.Join(parts, ", "))
	}
}

// progress reports how far an import has got on stderr: on a terminal, one
// line redrawn in place every batch or 250 ms; otherwise a line every
// 10,000 rows. Problems are printed through it so they do not mix with the
// line being redrawn.
type progress struct {
	w     io.Writer
	tty   bool
	name  string
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, name string) *progress {
	p := &progress{w: w, name: name}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	return p
}

func (p *progress) line(rows, imported, skipped int) string {
	return fmt.Sprintf("importing %s: %s, %s imported, %s skipped", p.name, plural(rows, "row"), commas(imported), commas(skipped))
}

// update is called after every row; batch is true after a batch was
// written.
func (p *progress) update(rows, imported, skipped int, batch bool) {
	if !p.tty {
		if batch && rows%10_000 == 0 {
			fmt.Fprintln(p.w, p.line(rows, imported, skipped))
		}
		return
	}
	if now := time.Now(); batch || now.Sub(p.last) >= 250*time.Millisecond {
		fmt.Fprintf(p.w, "\r\x1b[K%s", p.line(rows, imported, skipped))
		p.last, p.drawn = now, true
	}
}

// done ends the progress line on a terminal.
func (p *progress) done(rows, imported, skipped int) {
	if p.tty {
		fmt.Fprintf(p.w, "\r\x1b[K%s\n", p.line(rows, imported, skipped))
		p.drawn = false
	}
}

// printf prints a message on a line of its own.
func (p *progress) printf(format string, args ...any) {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
		p.last = time.Time{} // redraw at the next row
	}
	fmt.Fprintf(p.w, format, args...)
}

// commas formats n with thousands separators: 41,000.
func commas(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// plural formats a count of things: "1 row", "41,000 rows".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return commas(n) + " " + thing + "s"
}

// foldKey maps s to a key that two strings share exactly when
// strings.EqualFold reports them equal, as the store compares usernames
// and emails.
func foldKey(s string) string { return gatehouse.FoldName(s) }
