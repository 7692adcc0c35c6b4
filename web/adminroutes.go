package web

import (
	"github.com/gatehouse/gatehouse/httpapi"
)

// adminRoutes registers the console's parts; each file admin<part>.go
// serves one.
func (p *Pages) adminRoutes() {
	users, settings, audit := httpapi.PermUsers, httpapi.PermSettings, httpapi.PermAudit
	// Users (adminusers.go).
	p.adminRoute("GET /ui/admin/users", users, p.handleAdminUsers)
	p.adminRoute("POST /ui/admin/users", users, p.handleAdminCreateUser)
	p.adminRoute("POST /ui/admin/users/invite", users, p.handleAdminInviteUser)
	p.adminRoute("GET /ui/admin/users/{id}", users, p.handleAdminUser)
	p.adminRoute("POST /ui/admin/users/{id}/update", users, p.handleAdminUpdateUser)
	p.adminRoute("POST /ui/admin/users/{id}/disable", users, p.handleAdminDisableUser)
	p.adminRoute("POST /ui/admin/users/{id}/enable", users, p.handleAdminEnableUser)
	p.adminRoute("POST /ui/admin/users/{id}/unlock", users, p.handleAdminUnlockUser)
	p.adminRoute("POST /ui/admin/users/{id}/reset-two-factor", users, p.handleAdminResetTwoFactor)
	p.adminRoute("POST /ui/admin/users/{id}/reset-password", users, p.handleAdminSendReset)
	p.adminRoute("POST /ui/admin/users/{id}/invite", users, p.handleAdminResendInvite)
	p.adminRoute("POST /ui/admin/users/{id}/sessions/end", users, p.handleAdminEndUserSessions)
	p.adminRoute("POST /ui/admin/users/{id}/delete", users, p.handleAdminDeleteUser)
	// All sessions (adminsessions.go).
	p.adminRoute("GET /ui/admin/sessions", users, p.handleAdminSessions)
	p.adminRoute("POST /ui/admin/sessions/end", users, p.handleAdminEndSession)
	// Groups and their permissions (admingroups.go).
	p.adminRoute("GET /ui/admin/groups", settings, p.handleAdminGroups)
	p.adminRoute("POST /ui/admin/groups", settings, p.handleAdminCreateGroup)
	p.adminRoute("GET /ui/admin/groups/{name}", settings, p.handleAdminGroup)
	p.adminRoute("POST /ui/admin/groups/{name}", settings, p.handleAdminUpdateGroup)
	p.adminRoute("POST /ui/admin/groups/{name}/delete", settings, p.handleAdminDeleteGroup)
	// The route table and the explain tool (adminpolicy.go).
	p.adminRoute("GET /ui/admin/routes", settings, p.handleAdminRoutes)
	// The audit log (adminaudit.go).
	p.adminRoute("GET /ui/admin/audit", audit, p.handleAdminAudit)
}
