package notifier

import (
	"strings"
	"text/template"
)

// The SMS side of the templates for notifications-api (templates.go keeps a key's SMS text
// under smsKey(key) and renders it, renderFor): which keys have one, and the parsed text.

// isSMSKey reports whether a templateSet key is the SMS text of another key: not a
// template of its own to list, preview or send.
func isSMSKey(key string) bool { return strings.HasPrefix(key, smsKey("")) }

func (a *APIService) hasSMS(key string) bool { return a.smsTemplate(key, German) != nil }

// smsTemplate is key's SMS text in lang (German when it has no such language), nil when the
// key has no SMS text.
func (a *APIService) smsTemplate(key, lang string) *template.Template {
	byLang := a.templates[smsKey(key)]
	if t, ok := byLang[lang]; ok {
		return t
	}
	return byLang[German]
}
