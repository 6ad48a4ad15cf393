package bounce

import (
	"github.com/preflight-email/preflight/outcome"
	"github.com/preflight-email/preflight/reply"
)

// Classification is the JSON view of a diagnosis, the one shape that
// POST /v1/bounces/classify, `preflight bounce --json` and the suppression
// events share.
type Classification struct {
	Class       reply.Class    `json:"class"`
	Reason      outcome.Reason `json:"reason"`
	Code        int            `json:"code"`
	Enhanced    string         `json:"enhanced"`
	Action      reply.Action   `json:"action"`
	Explanation string         `json:"explanation"`
	Provider    string         `json:"provider"`
	Blocklist   string         `json:"blocklist"`
	Description string         `json:"description"` // the RFC 3463 meaning of Enhanced
}

// Classify is the view of one reply text's diagnosis.
func Classify(d reply.Diagnosis) Classification {
	return Classification{
		Class: d.Class, Reason: d.Reason, Code: d.Code, Enhanced: d.Enhanced, Action: d.Action,
		Explanation: d.Explanation, Provider: d.Provider, Blocklist: d.Blocklist,
		Description: reply.Describe(d.Enhanced),
	}
}

// RecipientView is the JSON view of one recipient of a bounce message.
// DSNAction is the report's own Action field (failed, delayed, ...; RFC
// 3464 §2.3.3); Action is what the sender should do.
type RecipientView struct {
	Recipient      string `json:"recipient"`
	DSNAction      string `json:"dsn_action"`
	Status         string `json:"status"`
	DiagnosticCode string `json:"diagnostic_code"`
	RemoteMTA      string `json:"remote_mta"`
	// Format is the layout Read recognised (rfc3464, postfix, arf,
	// autoreply, ...); FeedbackType is an ARF complaint's Feedback-Type.
	Format       Format `json:"format,omitempty"`
	FeedbackType string `json:"feedback_type,omitempty"`
	Classification
}

// View is d's JSON view.
func View(d Diagnosis) RecipientView {
	return RecipientView{
		Recipient: d.Recipient, DSNAction: d.DSNAction, Status: d.Status, DiagnosticCode: d.Diagnostic,
		RemoteMTA: d.RemoteMTA, Format: d.Format, FeedbackType: d.FeedbackType,
		Classification: Classification{
			Class: d.Class, Reason: d.Reason, Code: d.Code, Enhanced: d.Enhanced, Action: d.Action,
			Explanation: d.Explanation, Provider: d.Provider, Blocklist: d.Blocklist,
			Description: reply.Describe(d.Enhanced),
		},
	}
}
