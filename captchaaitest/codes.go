package captchaaitest

// The provider's answer codes. They are this package's own constants, taken
// from the providers' documentation, not from the slotguard core, so that the
// fake stays an independent model of the provider:
//
//   - CaptchaAI, error handling (in.php and res.php tables, bans 1001-1005,
//     MAX_USER_TURN): https://docs.captchaai.com/api/api-error-handling
//   - 2captcha, request limits: https://2captcha.com/api-docs/limits
//   - JSON API v2 errorIds (createTask, getTaskResult), as 2captcha's v2 API
//     took them from Anti-Captcha: https://anti-captcha.com/apidoc/errors
const (
	codeOK = "OK"

	// Submits (in.php, createTask).
	codeWrongUserKey   = "ERROR_WRONG_USER_KEY"     // key not 32 characters
	codeKeyNotExist    = "ERROR_KEY_DOES_NOT_EXIST" // well-formed, unknown
	codeZeroBalance    = "ERROR_ZERO_BALANCE"
	codeNoSlot         = "ERROR_NO_SLOT_AVAILABLE"
	codePageURL        = "ERROR_PAGEURL"
	codeGoogleKey      = "ERROR_GOOGLEKEY"
	codeBadParameters  = "ERROR_BAD_PARAMETERS"
	codeZeroFileSize   = "ERROR_ZERO_CAPTCHA_FILESIZE"    // image under 100 bytes
	codeTooBigFileSize = "ERROR_TOO_BIG_CAPTCHA_FILESIZE" // image over 100 kB
	codeUpload         = "ERROR_UPLOAD"                   // no file, or bad base64
	codeMaxUserTurn    = "MAX_USER_TURN"                  // > 60 in.php requests in 3 s: 10 s
	codeBan1001        = "ERROR: 1001"                    // 120 NO_SLOT in a minute: 10 min
	codeBan1002        = "ERROR: 1002"                    // 120 ZERO_BALANCE in a minute: 5 min
	codeBan1003        = "ERROR: 1003"                    // NO_SLOT >= 3 x accepted: 30 s

	// Polls (res.php, getTaskResult).
	codeNotReady      = "CAPCHA_NOT_READY" // sic: the provider's spelling
	codeWrongID       = "ERROR_WRONG_ID_FORMAT"
	codeWrongCaptcha  = "ERROR_WRONG_CAPTCHA_ID"
	codeEmptyAction   = "ERROR_EMPTY_ACTION"
	codeReportOK      = "OK_REPORT_RECORDED"
	codeBan1005       = "ERROR: 1005" // too many res.php requests: 10 min
	codeNoSuchCaptcha = "ERROR_NO_SUCH_CAPCHA_ID"

	// JSON API v2 only.
	codeTaskAbsent       = "ERROR_TASK_ABSENT"
	codeTaskNotSupported = "ERROR_TASK_NOT_SUPPORTED"
)

// errorIDs are the v2 API's errorId values (Anti-Captcha's table, which
// 2captcha's v2 API follows). NO_SLOT is errorId 2.
//
// The v2 tables have no errorIds for the v1 bans (1001-1005, MAX_USER_TURN) or
// for ERROR_WRONG_USER_KEY. This fake's own reading: a ban answers errorId 21
// (Anti-Captcha's ERROR_IP_BLOCKED, "blocked for improper use of the API") with
// the v1 code in errorCode, so a client sees which ban it hit; a wrong-format
// key answers errorId 1 ERROR_KEY_DOES_NOT_EXIST, as the v2 API does.
var errorIDs = map[string]int{
	codeKeyNotExist:      1,
	codeNoSlot:           2,
	codeZeroFileSize:     3,
	codeTooBigFileSize:   4,
	codeZeroBalance:      10,
	codeNoSuchCaptcha:    16,
	codeTaskAbsent:       22,
	codeTaskNotSupported: 23,
	codeMaxUserTurn:      21,
	codeBan1001:          21,
	codeBan1002:          21,
	codeBan1003:          21,
	codeBan1005:          21,
}

// errorIDOther is the errorId of a v2 answer whose code has no entry in
// errorIDs (parameter errors such as ERROR_PAGEURL).
const errorIDOther = 1

// descriptions are the v2 errorDescription texts, in the fake's own words.
var descriptions = map[string]string{
	codeKeyNotExist:      "Account authorization key not found in the system.",
	codeNoSlot:           "No idle workers are available at the moment.",
	codeZeroFileSize:     "The image is smaller than 100 bytes.",
	codeTooBigFileSize:   "The image is larger than 100 kB.",
	codeZeroBalance:      "The account has no funds.",
	codeNoSuchCaptcha:    "No task with this id.",
	codeTaskAbsent:       "The task property is missing.",
	codeTaskNotSupported: "This task type is not supported.",
	codeMaxUserTurn:      "More than 60 submits within 3 seconds: blocked for 10 seconds.",
	codeBan1001:          "120 NO_SLOT answers within a minute: blocked for 10 minutes.",
	codeBan1002:          "120 ZERO_BALANCE answers within a minute: blocked for 5 minutes.",
	codeBan1003:          "NO_SLOT answers at least 3 times the tasks accepted: blocked for 30 seconds.",
	codeBan1005:          "Too many result requests: blocked for 10 minutes.",
}

// htmlPage is the body of an injected HTTP 500 or 502 answer: the nginx error
// page the providers' documentation warns about ("in very rare cases server
// can return HTML page with error text like 500 or 502").
func htmlPage(status int, text string) []byte {
	return []byte("<html>\r\n<head><title>" + itoa(status) + " " + text +
		"</title></head>\r\n<body>\r\n<center><h1>" + itoa(status) + " " + text +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
}
