package web

// partNotices are what the forms of the groups and sessions parts say
// after their redirect (?done=…), a fixed list as adminNotices is;
// adminNotice looks in both.
var partNotices = map[string]string{
	"group_created": "The group was created.",
	"group_updated": "The group was changed. Its members have its new permissions from their next request.",
	"group_deleted": "The group was deleted. Its members lost its permissions.",
	"session_ended": "The session was ended.",
}
