package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse"
	"github.com/gatehouse/gatehouse/httpapi"
)

// The console's groups (section:settings), as the management API's
// /groups: the list with a form to create one, and a page per group to
// change its permissions and two-factor rule, see its members and delete
// it. Refusals of the use cases (an invalid or taken name, permissions the
// administrator lacks, leaving no administrator) are shown on the page,
// next to the field they concern, with their status.

// maxMembersShown bounds the members a group's page lists; it counts the
// rest.
const maxMembersShown = 200

// adminGroupsData is the groups page.
type adminGroupsData struct {
	adminPage
	Groups []groupRow
	// Form is the create form, as sent when it was refused.
	Form groupForm
}

// groupRow is a group in the groups table.
type groupRow struct {
	Name, Description, Permissions, URL string
	Members                             int
	RequireTwoFactor                    bool
}

// groupForm is the create or edit form of a group.
type groupForm struct {
	Name, Description string
	// Choices are the permissions offered as checkboxes, ticked as the
	// group has them; Other are the group's permissions not offered,
	// space-separated, for the free text field.
	Choices          []permissionOption
	Other            string
	RequireTwoFactor bool
}

// adminGroupData is a group's page.
type adminGroupData struct {
	adminPage
	Name        string
	Form        groupForm
	Members     []memberRow
	MoreMembers int
	// Action is the group's page, where its forms post.
	Action string
}

// memberRow is a member of a group, linked to their page.
type memberRow struct {
	Username, URL string
}

// knownPermissions are the permissions the group forms offer as
// checkboxes: every permission ("*"), the management API's, those the
// groups hold and those the route table asks for.
func (p *Pages) knownPermissions(groups []*gatehouse.Group) []string {
	known := []string{httpapi.PermUsers, httpapi.PermSettings, httpapi.PermAudit}
	for _, g := range groups {
		known = append(known, g.Permissions...)
	}
	if table, _ := p.browser.RouteTable(); table != nil {
		for _, rule := range table.Rules() {
			if rule.Permission != "" {
				known = append(known, rule.Permission)
			}
			known = append(known, rule.Permissions...)
		}
	}
	known = slices.DeleteFunc(known, func(s string) bool { return s == gatehouse.PermissionAll })
	slices.Sort(known)
	// "*" heads the list: the broadest choice.
	return append([]string{gatehouse.PermissionAll}, slices.Compact(known)...)
}

// newGroupForm is the form of group g, its permissions among known ticked
// and the others in the free text field.
func newGroupForm(g *gatehouse.Group, known []string) groupForm {
	f := groupForm{Name: g.Name, Description: g.Description, RequireTwoFactor: g.RequireTwoFactor}
	var other []string
	for _, perm := range g.Permissions {
		if !slices.Contains(known, perm) {
			other = append(other, perm)
		}
	}
	f.Other = strings.Join(other, " ")
	for _, perm := range known {
		f.Choices = append(f.Choices, permissionOption{Name: perm, Checked: slices.Contains(g.Permissions, perm)})
	}
	return f
}

// readGroupForm reads a group form into g (its name only when withName):
// the ticked permissions and the free text field's, which must each be a
// valid permission (fields names the form's field otherwise). The form as
// sent comes back too, to show again.
func readGroupForm(f url.Values, g *gatehouse.Group, known []string, withName bool) (groupForm, map[string]string) {
	fields := map[string]string{}
	if withName {
		g.Name = strings.TrimSpace(f.Get("name"))
	}
	g.Description = strings.TrimSpace(f.Get("description"))
	g.RequireTwoFactor = f.Get("require_two_factor") == "1"
	g.Permissions = slices.Clone(f["permission"])
	other := strings.FieldsFunc(f.Get("other_permissions"), func(c rune) bool { return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' })
	for _, perm := range other {
		if !gatehouse.ValidPermission(perm) {
			fields["other_permissions"] = strconv.Quote(perm) + " is not a valid permission: use letters, digits and . : _ - (such as orders:read)."
			break
		}
	}
	for _, perm := range g.Permissions {
		if !gatehouse.ValidPermission(perm) {
			fields["other_permissions"] = strconv.Quote(perm) + " is not a valid permission."
		}
	}
	g.Permissions = append(g.Permissions, other...)
	form := newGroupForm(g, known)
	form.Other = strings.Join(other, " ")
	return form, fields
}

// groupFormField is the form's field of a field of the group use cases'
// validation.
func groupFormField(field string) string {
	if field == "permissions" {
		return "other_permissions"
	}
	return field
}

// groupRefused puts the refusal err into page's errors — next to a field
// of the form, or at the top — and returns its status; ok is false for an
// error that is not a refusal. A conflict goes next to conflictField when
// not "" (creating, the name is taken), else at the top (the last
// administrators).
func groupRefused(page *adminPage, err error, conflictField string) (status int, ok bool) {
	ge, status, ok := refusal(err)
	if !ok {
		return 0, false
	}
	switch {
	case len(ge.Fields) > 0:
		for k, v := range ge.Fields {
			page.FieldErrors[groupFormField(k)] = v
		}
	case ge.Code == gatehouse.CodeConflict && conflictField != "":
		page.FieldErrors[conflictField] = ge.Message
	default:
		page.Errors = append(page.Errors, ge.Message)
	}
	return status, true
}

// groupsData is the groups page as it is now.
func (p *Pages) groupsData(r *http.Request, page adminPage) (*adminGroupsData, []string, error) {
	ctx := r.Context()
	groups, err := p.accounts.ListGroups(ctx)
	if err != nil {
		return nil, nil, err
	}
	d := &adminGroupsData{adminPage: page.current("groups")}
	for _, g := range groups {
		members, err := p.accounts.GroupMembers(ctx, g.Name)
		if err != nil {
			return nil, nil, err
		}
		perms := "None"
		if len(g.Permissions) > 0 {
			perms = strings.Join(g.Permissions, ", ")
		}
		d.Groups = append(d.Groups, groupRow{
			Name: g.Name, Description: g.Description, Permissions: perms, URL: p.groupURL(g.Name, ""),
			Members: len(members), RequireTwoFactor: g.RequireTwoFactor,
		})
	}
	known := p.knownPermissions(groups)
	d.Form = newGroupForm(&gatehouse.Group{}, known)
	return d, known, nil
}

// groupURL is a group's page with the notice done ("" for none).
func (p *Pages) groupURL(name, done string) string {
	var q url.Values
	if done != "" {
		q = url.Values{"done": {done}}
	}
	return p.adminURL("/groups/"+url.PathEscape(name), q)
}

// handleAdminGroups is GET BASE/ui/admin/groups: every group, and the
// form to create one.
func (p *Pages) handleAdminGroups(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	d, _, err := p.groupsData(r, page)
	if err != nil {
		return err
	}
	d.Notice = adminNotice(r)
	return render(w, http.StatusOK, p.views.adminGroups, d)
}

// handleAdminCreateGroup is POST BASE/ui/admin/groups {name, description,
// permission…, other_permissions, require_two_factor}: as POST
// …/groups, a new group, then 303 back to the list; refused, the page
// again with the form as sent.
func (p *Pages) handleAdminCreateGroup(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d, known, err := p.groupsData(r, page)
	if err != nil {
		return err
	}
	g := &gatehouse.Group{}
	form, fields := readGroupForm(f, g, known, true)
	status := http.StatusUnprocessableEntity
	if len(fields) == 0 {
		err := p.accounts.CreateGroup(r.Context(), p.browser.Actor(r, ps), g)
		if err == nil {
			seeOther(w, p.adminURL("/groups", url.Values{"done": {"group_created"}}))
			return nil
		}
		var ok bool
		if status, ok = groupRefused(&d.adminPage, err, "name"); !ok {
			return err
		}
	}
	for k, v := range fields {
		d.FieldErrors[k] = v
	}
	d.Form = form
	return render(w, status, p.views.adminGroups, d)
}

// groupData is group name's page as it is now; an unknown group is
// ErrNotFound.
func (p *Pages) groupData(r *http.Request, page adminPage, name string) (*adminGroupData, []string, error) {
	ctx := r.Context()
	g, err := p.accounts.Group(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	groups, err := p.accounts.ListGroups(ctx)
	if err != nil {
		return nil, nil, err
	}
	known := p.knownPermissions(groups)
	d := &adminGroupData{adminPage: page.current("groups"), Name: g.Name, Form: newGroupForm(g, known), Action: p.groupURL(g.Name, "")}
	ids, err := p.accounts.GroupMembers(ctx, g.Name)
	if err != nil {
		return nil, nil, err
	}
	if len(ids) > maxMembersShown {
		d.MoreMembers = len(ids) - maxMembersShown
		ids = ids[:maxMembersShown]
	}
	for _, id := range ids {
		m := memberRow{Username: id, URL: p.adminURL("/users/"+url.PathEscape(id), nil)}
		name, err := p.accounts.Username(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if name != "" {
			m.Username = name
		}
		d.Members = append(d.Members, m)
	}
	slices.SortFunc(d.Members, func(a, b memberRow) int { return strings.Compare(a.Username, b.Username) })
	return d, known, nil
}

// handleAdminGroup is GET BASE/ui/admin/groups/{name}: the group's form,
// its members and the delete form.
func (p *Pages) handleAdminGroup(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	d, _, err := p.groupData(r, page, r.PathValue("name"))
	if err != nil {
		return err
	}
	d.Notice = adminNotice(r)
	return render(w, http.StatusOK, p.views.adminGroup, d)
}

// handleAdminUpdateGroup is POST BASE/ui/admin/groups/{name}
// {description, permission…, other_permissions, require_two_factor}: as
// PATCH …/groups/{name}, the group's fields replaced, then 303 back to its
// page. Its members have the new permissions from their next request.
func (p *Pages) handleAdminUpdateGroup(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d, known, err := p.groupData(r, page, r.PathValue("name"))
	if err != nil {
		return err
	}
	g := &gatehouse.Group{Name: d.Name}
	form, fields := readGroupForm(f, g, known, false)
	status := http.StatusUnprocessableEntity
	if len(fields) == 0 {
		err := p.accounts.UpdateGroup(r.Context(), p.browser.Actor(r, ps), g)
		if err == nil {
			seeOther(w, p.groupURL(g.Name, "group_updated"))
			return nil
		}
		var ok bool
		if status, ok = groupRefused(&d.adminPage, err, ""); !ok {
			return err
		}
	}
	for k, v := range fields {
		d.FieldErrors[k] = v
	}
	form.Name = d.Name
	d.Form = form
	return render(w, status, p.views.adminGroup, d)
}

// handleAdminDeleteGroup is POST BASE/ui/admin/groups/{name}/delete
// {confirm}: as DELETE …/groups/{name}, once confirm is ticked, then 303
// to the groups; refused (the last administrators' group, permissions the
// administrator lacks), the group's page with why.
func (p *Pages) handleAdminDeleteGroup(w http.ResponseWriter, r *http.Request, ps *httpapi.PageSession, page adminPage) error {
	f, err := readForm(w, r)
	if err != nil {
		return err
	}
	d, _, err := p.groupData(r, page, r.PathValue("name"))
	if err != nil {
		return err
	}
	if f.Get("confirm") != "1" {
		d.FieldErrors["confirm"] = "Tick the box to confirm that the group is to be deleted."
		return render(w, http.StatusUnprocessableEntity, p.views.adminGroup, d)
	}
	err = p.accounts.DeleteGroup(r.Context(), p.browser.Actor(r, ps), d.Name)
	if err == nil {
		seeOther(w, p.adminURL("/groups", url.Values{"done": {"group_deleted"}}))
		return nil
	}
	status, ok := groupRefused(&d.adminPage, err, "")
	if !ok {
		return err
	}
	return render(w, status, p.views.adminGroup, d)
}
