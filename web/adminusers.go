package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The console's users part (section:users): GET BASE/ui/admin/users lists
// and finds users and has the forms that create and invite one
// (adminusersforms.go); GET BASE/ui/admin/users/{id} is one user, with the
// forms that act on them (adminusersuser.go, adminusersactions.go). Each
// calls the account use case its twin in the management API calls, so the
// same refusals hold (last administrator, acting on a more powerful
// account), shown on the page with their status.

// usersPageSize is how many users one page of the list shows.
const usersPageSize = 50

// userNotices are what the users part's 303s say (?done=…): a fixed list,
// so a link cannot make the page say something else. They are kept here,
// apart from admin.go's adminNotices, and merged with them at lookup
// (userNotice), so the console's parts do not edit one shared map.
var userNotices = map[string]string{
	"created":           "The user was created.",
	"invited":           "The invitation was sent.",
	"updated":           "The user was saved.",
	"disabled":          "The user was disabled; their sessions and tokens ended.",
	"enabled":           "The user was enabled.",
	"unlocked":          "The user's login lockout was cleared.",
	"two_factor_reset":  "The user's two-factor authentication was removed.",
	"reset_sent":        "A password reset link was mailed to the user.",
	"invitation_resent": "A new invitation was mailed; the earlier links no longer work.",
	"sessions_ended":    "The user's sessions were ended.",
	"deleted":           "The user was deleted.",
}

// userNotice is the notice the request's ?done= names, the users part's
// or the console's, "" for none.
func userNotice(r *http.Request) string {
	if n, ok := userNotices[r.URL.Query().Get("done")]; ok {
		return n
	}
	return adminNotice(r)
}

// usersPageData is the users list and its two forms.
type usersPageData struct {
	adminPage
	// Action is BASE/ui/admin/users: the search's and the forms' target.
	Action string
	// Query and State are the search and the state filter as asked.
	Query, State string
	States       []gatehouse.UserState
	Rows         []userRow
	// Total counts the users matching the search; From and To are the
	// 1-based positions of the first and last shown.
	Total, From, To int
	// PrevURL and NextURL are the neighbouring pages ("" when none);
	// FirstURL is the first page, offered past the last one.
	PrevURL, NextURL, FirstURL string
	// Create and Invite are the forms as last sent (empty at first).
	Create, Invite userForm
}

// userRow is a user of the list.
type userRow struct {
	URL, Username, Email, Name, State, Groups string
}

// userForm is the create or invite form's fields, and the groups offered
// with those ticked.
type userForm struct {
	Username, Email, Name string
	Groups                []groupOption
}

// groupOption is a group checkbox.
type groupOption struct {
	Name    string
	Checked bool
}

// usersQuery is what the list page was asked for.
type usersQuery struct {
	Search string
	State  gatehouse.UserState
	Page   int // 1-based
}

// maxUsersPage is the highest page number the list takes: 50 million
// users.
const maxUsersPage = 1_000_000

// parseUsersQuery reads q, state and page; a state or page that is not
// one the page offers is a bad request.
func parseUsersQuery(q url.Values) (usersQuery, error) {
	uq := usersQuery{Search: strings.TrimSpace(q.Get("q")), State: gatehouse.UserState(q.Get("state")), Page: 1}
	if uq.State != "" && !uq.State.Valid() {
		return uq, gatehouse.Errorf(gatehouse.CodeBadRequest, "The state filter must be invited, active or disabled.")
	}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		// Past maxUsersPage the offset would not fit an int (and no
		// store holds that many users).
		if err != nil || n < 1 || n > maxUsersPage {
			return uq, gatehouse.Errorf(gatehouse.CodeBadRequest, "The page must be a whole number from 1 to %d.", maxUsersPage)
		}
		uq.Page = n
	}
	return uq, nil
}

// values is the query of page n of the same search and filter.
func (uq usersQuery) values(n int) url.Values {
	v := url.Values{}
	if uq.Search != "" {
		v.Set("q", uq.Search)
	}
	if uq.State != "" {
		v.Set("state", string(uq.State))
	}
	if n > 1 {
		v.Set("page", strconv.Itoa(n))
	}
	return v
}

// handleAdminUsers is GET BASE/ui/admin/users[?q=&state=&page=].
func (p *Pages) handleAdminUsers(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	uq, err := parseUsersQuery(r.URL.Query())
	if err != nil {
		return err
	}
	page.Notice = userNotice(r)
	d, err := p.usersData(r, page, uq)
	if err != nil {
		return err
	}
	return render(w, http.StatusOK, p.views.adminUsers, d)
}

// usersData is the list page for uq, with empty forms.
func (p *Pages) usersData(r *http.Request, page adminPage, uq usersQuery) (*usersPageData, error) {
	ctx := r.Context()
	offset := (uq.Page - 1) * usersPageSize
	users, total, err := p.accounts.ListUsers(ctx, gatehouse.UserFilter{
		Search: uq.Search, State: uq.State, Offset: offset, Limit: usersPageSize,
	})
	if err != nil {
		return nil, err
	}
	d := &usersPageData{
		adminPage: page.current("users"), Action: p.adminURL("/users", nil),
		Query: uq.Search, State: string(uq.State), Total: total,
		States: []gatehouse.UserState{gatehouse.StateInvited, gatehouse.StateActive, gatehouse.StateDisabled},
	}
	for _, u := range users {
		d.Rows = append(d.Rows, userRow{
			URL: p.adminURL("/users/"+url.PathEscape(u.ID), nil), Username: u.Username, Email: u.Email,
			Name: u.Name, State: string(u.State), Groups: strings.Join(u.Groups, ", "),
		})
	}
	if len(users) > 0 {
		d.From, d.To = offset+1, offset+len(users)
	}
	switch {
	case uq.Page > 1 && len(users) > 0:
		d.PrevURL = p.adminURL("/users", uq.values(uq.Page-1))
	case uq.Page > 1:
		// Past the last page (the list shrank, or a hand-made link):
		// back to the start rather than to another empty page.
		d.FirstURL = p.adminURL("/users", uq.values(1))
	}
	if offset+len(users) < total {
		d.NextURL = p.adminURL("/users", uq.values(uq.Page+1))
	}
	groups, err := p.groupOptions(r, nil)
	if err != nil {
		return nil, err
	}
	d.Create.Groups, d.Invite.Groups = groups, cloneOptions(groups)
	return d, nil
}

// groupOptions are every group as a checkbox, those in checked ticked.
func (p *Pages) groupOptions(r *http.Request, checked []string) ([]groupOption, error) {
	groups, err := p.accounts.ListGroups(r.Context())
	if err != nil {
		return nil, err
	}
	opts := make([]groupOption, 0, len(groups))
	for _, g := range groups {
		opt := groupOption{Name: g.Name}
		for _, c := range checked {
			opt.Checked = opt.Checked || c == g.Name
		}
		opts = append(opts, opt)
	}
	return opts, nil
}

func cloneOptions(opts []groupOption) []groupOption {
	return append([]groupOption(nil), opts...)
}
