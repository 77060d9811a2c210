package agentos.bench

default decision := "deny"

decision := "deny" if {
	count(deny) > 0
} else := "approve" if {
	count(approve) > 0
} else := "audit" if {
	count(audit) > 0
} else := "allow" if {
	count(allow) > 0
}

allow contains "allow-sql.query" if {
	input.action.op == "exec"
	input.action.tool == "sql.query"
	input.agent.role in {"admin", "analyst"}
}

deny contains "deny-sql.query-database" if {
	input.action.tool == "sql.query"
	input.action.args.database == "prod_primary"
}

approve contains "approve-sql.query-rows" if {
	input.action.tool == "sql.query"
	input.action.args.rows > 10000
}

audit contains "audit-sql.query-rows" if {
	input.action.op == "exec"
	input.action.tool == "sql.query"
	input.agent.role in {"admin", "analyst"}
	input.action.args.rows > 1000
}

deny contains "deny-sql.query-query-pattern" if {
	input.action.tool == "sql.query"
	regex.match("(?i)\\b(drop|truncate)\\s+table\\b", input.action.args.query)
}

allow contains "allow-payments.send" if {
	input.action.op == "exec"
	input.action.tool == "payments.send"
	input.agent.role in {"admin", "finance"}
}

deny contains "deny-payments.send-currency" if {
	input.action.tool == "payments.send"
	input.action.args.currency == "XMR"
}

approve contains "approve-payments.send-amount" if {
	input.action.tool == "payments.send"
	input.action.args.amount > 1000
}

audit contains "audit-payments.send-amount" if {
	input.action.op == "exec"
	input.action.tool == "payments.send"
	input.agent.role in {"admin", "finance"}
	input.action.args.amount > 100
}

deny contains "deny-payments.send-low-trust" if {
	input.action.tool == "payments.send"
	input.agent.trust < 0.7
}

allow contains "allow-email.send" if {
	input.action.op == "exec"
	input.action.tool == "email.send"
	input.agent.role in {"admin", "analyst", "support"}
}

deny contains "deny-email.send-bcc_all" if {
	input.action.tool == "email.send"
	input.action.args.bcc_all == true
}

approve contains "approve-email.send-recipients" if {
	input.action.tool == "email.send"
	input.action.args.recipients > 50
}

audit contains "audit-email.send-recipients" if {
	input.action.op == "exec"
	input.action.tool == "email.send"
	input.agent.role in {"admin", "analyst", "support"}
	input.action.args.recipients > 10
}

deny contains "deny-email.send-to-pattern" if {
	input.action.tool == "email.send"
	regex.match("@(competitor|rival)\\.com$", input.action.args.to)
}

allow contains "allow-web.search" if {
	input.action.op == "exec"
	input.action.tool == "web.search"
	input.agent.role in {"admin", "analyst", "intern", "support"}
}

deny contains "deny-web.search-safe" if {
	input.action.tool == "web.search"
	input.action.args.safe == false
}

approve contains "approve-web.search-results" if {
	input.action.tool == "web.search"
	input.action.args.results > 100
}

audit contains "audit-web.search-results" if {
	input.action.op == "exec"
	input.action.tool == "web.search"
	input.agent.role in {"admin", "analyst", "intern", "support"}
	input.action.args.results > 50
}

deny contains "deny-web.search-query-prefix" if {
	input.action.tool == "web.search"
	startswith(input.action.args.query, "site:internal.")
}

allow contains "allow-files.read" if {
	input.action.op == "exec"
	input.action.tool == "files.read"
	input.agent.role in {"admin", "analyst", "finance", "intern", "ops", "support"}
}

deny contains "deny-files.read-follow_symlinks" if {
	input.action.tool == "files.read"
	input.action.args.follow_symlinks == true
}

approve contains "approve-files.read-bytes" if {
	input.action.tool == "files.read"
	input.action.args.bytes > 10000000
}

audit contains "audit-files.read-bytes" if {
	input.action.op == "exec"
	input.action.tool == "files.read"
	input.agent.role in {"admin", "analyst", "finance", "intern", "ops", "support"}
	input.action.args.bytes > 1000000
}

deny contains "deny-files.read-path-prefix" if {
	input.action.tool == "files.read"
	startswith(input.action.args.path, "/etc/")
}

allow contains "allow-shell.exec" if {
	input.action.op == "exec"
	input.action.tool == "shell.exec"
	input.agent.role in {"admin", "ops"}
}

deny contains "deny-shell.exec-sudo" if {
	input.action.tool == "shell.exec"
	input.action.args.sudo == true
}

approve contains "approve-shell.exec-timeout" if {
	input.action.tool == "shell.exec"
	input.action.args.timeout > 300
}

audit contains "audit-shell.exec-timeout" if {
	input.action.op == "exec"
	input.action.tool == "shell.exec"
	input.agent.role in {"admin", "ops"}
	input.action.args.timeout > 60
}

deny contains "deny-shell.exec-cmd-pattern" if {
	input.action.tool == "shell.exec"
	regex.match("\\brm\\s+-(rf|fr)\\b", input.action.args.cmd)
}

allow contains "allow-http.get" if {
	input.action.op == "exec"
	input.action.tool == "http.get"
	input.agent.role in {"admin", "analyst", "ops", "support"}
}

deny contains "deny-http.get-insecure" if {
	input.action.tool == "http.get"
	input.action.args.insecure == true
}

approve contains "approve-http.get-max_kb" if {
	input.action.tool == "http.get"
	input.action.args.max_kb > 50000
}

audit contains "audit-http.get-max_kb" if {
	input.action.op == "exec"
	input.action.tool == "http.get"
	input.agent.role in {"admin", "analyst", "ops", "support"}
	input.action.args.max_kb > 5000
}

deny contains "deny-http.get-url-prefix" if {
	input.action.tool == "http.get"
	startswith(input.action.args.url, "http://")
}

allow contains "allow-slack.post" if {
	input.action.op == "exec"
	input.action.tool == "slack.post"
	input.agent.role in {"admin", "ops", "support"}
}

deny contains "deny-slack.post-broadcast" if {
	input.action.tool == "slack.post"
	input.action.args.broadcast == true
}

approve contains "approve-slack.post-mentions" if {
	input.action.tool == "slack.post"
	input.action.args.mentions > 20
}

audit contains "audit-slack.post-mentions" if {
	input.action.op == "exec"
	input.action.tool == "slack.post"
	input.agent.role in {"admin", "ops", "support"}
	input.action.args.mentions > 5
}

deny contains "deny-slack.post-channel-prefix" if {
	input.action.tool == "slack.post"
	startswith(input.action.args.channel, "#exec-")
}

allow contains "allow-github.merge" if {
	input.action.op == "exec"
	input.action.tool == "github.merge"
	input.agent.role in {"admin", "ops"}
}

deny contains "deny-github.merge-force" if {
	input.action.tool == "github.merge"
	input.action.args.force == true
}

approve contains "approve-github.merge-files" if {
	input.action.tool == "github.merge"
	input.action.args.files > 200
}

audit contains "audit-github.merge-files" if {
	input.action.op == "exec"
	input.action.tool == "github.merge"
	input.agent.role in {"admin", "ops"}
	input.action.args.files > 50
}

deny contains "deny-github.merge-branch-prefix" if {
	input.action.tool == "github.merge"
	startswith(input.action.args.branch, "release/")
}

allow contains "allow-calendar.create" if {
	input.action.op == "exec"
	input.action.tool == "calendar.create"
	input.agent.role in {"admin", "analyst", "intern", "support"}
}

deny contains "deny-calendar.create-visibility" if {
	input.action.tool == "calendar.create"
	input.action.args.visibility == "public"
}

approve contains "approve-calendar.create-attendees" if {
	input.action.tool == "calendar.create"
	input.action.args.attendees > 100
}

audit contains "audit-calendar.create-attendees" if {
	input.action.op == "exec"
	input.action.tool == "calendar.create"
	input.agent.role in {"admin", "analyst", "intern", "support"}
	input.action.args.attendees > 25
}

deny contains "deny-calendar.create-low-trust" if {
	input.action.tool == "calendar.create"
	input.agent.trust < 0.3
}

allow contains "allow-crm.update" if {
	input.action.op == "exec"
	input.action.tool == "crm.update"
	input.agent.role in {"admin", "finance", "support"}
}

deny contains "deny-crm.update-field" if {
	input.action.tool == "crm.update"
	input.action.args.field == "owner"
}

approve contains "approve-crm.update-records" if {
	input.action.tool == "crm.update"
	input.action.args.records > 500
}

audit contains "audit-crm.update-records" if {
	input.action.op == "exec"
	input.action.tool == "crm.update"
	input.agent.role in {"admin", "finance", "support"}
	input.action.args.records > 50
}

deny contains "deny-crm.update-account-prefix" if {
	input.action.tool == "crm.update"
	startswith(input.action.args.account, "acct-gov-")
}

allow contains "allow-s3.put" if {
	input.action.op == "exec"
	input.action.tool == "s3.put"
	input.agent.role in {"admin", "analyst", "ops"}
}

deny contains "deny-s3.put-acl" if {
	input.action.tool == "s3.put"
	input.action.args.acl == "public-read"
}

approve contains "approve-s3.put-size_mb" if {
	input.action.tool == "s3.put"
	input.action.args.size_mb > 5000
}

audit contains "audit-s3.put-size_mb" if {
	input.action.op == "exec"
	input.action.tool == "s3.put"
	input.agent.role in {"admin", "analyst", "ops"}
	input.action.args.size_mb > 500
}

deny contains "deny-s3.put-bucket-prefix" if {
	input.action.tool == "s3.put"
	startswith(input.action.args.bucket, "prod-")
}

allow contains "allow-k8s.apply" if {
	input.action.op == "exec"
	input.action.tool == "k8s.apply"
	input.agent.role in {"admin", "ops"}
}

deny contains "deny-k8s.apply-namespace" if {
	input.action.tool == "k8s.apply"
	input.action.args.namespace == "kube-system"
}

approve contains "approve-k8s.apply-replicas" if {
	input.action.tool == "k8s.apply"
	input.action.args.replicas > 50
}

audit contains "audit-k8s.apply-replicas" if {
	input.action.op == "exec"
	input.action.tool == "k8s.apply"
	input.agent.role in {"admin", "ops"}
	input.action.args.replicas > 10
}

deny contains "deny-k8s.apply-low-trust" if {
	input.action.tool == "k8s.apply"
	input.agent.trust < 0.8
}

allow contains "allow-jira.create" if {
	input.action.op == "exec"
	input.action.tool == "jira.create"
	input.agent.role in {"admin", "analyst", "intern", "ops", "support"}
}

deny contains "deny-jira.create-project" if {
	input.action.tool == "jira.create"
	input.action.args.project == "SEC"
}

approve contains "approve-jira.create-issues" if {
	input.action.tool == "jira.create"
	input.action.args.issues > 20
}

audit contains "audit-jira.create-issues" if {
	input.action.op == "exec"
	input.action.tool == "jira.create"
	input.agent.role in {"admin", "analyst", "intern", "ops", "support"}
	input.action.args.issues > 5
}

deny contains "deny-jira.create-summary-prefix" if {
	input.action.tool == "jira.create"
	startswith(input.action.args.summary, "[URGENT]")
}

allow contains "allow-docs.read" if {
	input.action.op == "exec"
	input.action.tool == "docs.read"
	input.agent.role in {"admin", "analyst", "finance", "intern", "ops", "support"}
}

deny contains "deny-docs.read-classification" if {
	input.action.tool == "docs.read"
	input.action.args.classification == "secret"
}

approve contains "approve-docs.read-pages" if {
	input.action.tool == "docs.read"
	input.action.args.pages > 500
}

audit contains "audit-docs.read-pages" if {
	input.action.op == "exec"
	input.action.tool == "docs.read"
	input.agent.role in {"admin", "analyst", "finance", "intern", "ops", "support"}
	input.action.args.pages > 100
}

deny contains "deny-docs.read-doc-prefix" if {
	input.action.tool == "docs.read"
	startswith(input.action.args.doc, "hr/")
}

allow contains "allow-vector.search" if {
	input.action.op == "exec"
	input.action.tool == "vector.search"
	input.agent.role in {"admin", "analyst", "intern", "support"}
}

deny contains "deny-vector.search-index" if {
	input.action.tool == "vector.search"
	input.action.args.index == "pii"
}

approve contains "approve-vector.search-k" if {
	input.action.tool == "vector.search"
	input.action.args.k > 1000
}

audit contains "audit-vector.search-k" if {
	input.action.op == "exec"
	input.action.tool == "vector.search"
	input.agent.role in {"admin", "analyst", "intern", "support"}
	input.action.args.k > 100
}

deny contains "deny-vector.search-namespace-prefix" if {
	input.action.tool == "vector.search"
	startswith(input.action.args.namespace, "tenant-other-")
}

allow contains "allow-pdf.render" if {
	input.action.op == "exec"
	input.action.tool == "pdf.render"
	input.agent.role in {"admin", "analyst", "finance", "intern", "support"}
}

deny contains "deny-pdf.render-javascript" if {
	input.action.tool == "pdf.render"
	input.action.args.javascript == true
}

approve contains "approve-pdf.render-pages" if {
	input.action.tool == "pdf.render"
	input.action.args.pages > 1000
}

audit contains "audit-pdf.render-pages" if {
	input.action.op == "exec"
	input.action.tool == "pdf.render"
	input.agent.role in {"admin", "analyst", "finance", "intern", "support"}
	input.action.args.pages > 200
}

deny contains "deny-pdf.render-template-prefix" if {
	input.action.tool == "pdf.render"
	startswith(input.action.args.template, "legacy/")
}

allow contains "allow-translate.text" if {
	input.action.op == "exec"
	input.action.tool == "translate.text"
	input.agent.role in {"admin", "analyst", "intern", "support"}
}

deny contains "deny-translate.text-store" if {
	input.action.tool == "translate.text"
	input.action.args.store == true
}

approve contains "approve-translate.text-chars" if {
	input.action.tool == "translate.text"
	input.action.args.chars > 100000
}

audit contains "audit-translate.text-chars" if {
	input.action.op == "exec"
	input.action.tool == "translate.text"
	input.agent.role in {"admin", "analyst", "intern", "support"}
	input.action.args.chars > 10000
}

deny contains "deny-translate.text-text-pattern" if {
	input.action.tool == "translate.text"
	regex.match("\\b\\d{4}[ -]?\\d{4}[ -]?\\d{4}[ -]?\\d{4}\\b", input.action.args.text)
}

allow contains "allow-billing.refund" if {
	input.action.op == "exec"
	input.action.tool == "billing.refund"
	input.agent.role in {"admin", "finance", "support"}
}

deny contains "deny-billing.refund-manual_override" if {
	input.action.tool == "billing.refund"
	input.action.args.manual_override == true
}

approve contains "approve-billing.refund-amount" if {
	input.action.tool == "billing.refund"
	input.action.args.amount > 500
}

audit contains "audit-billing.refund-amount" if {
	input.action.op == "exec"
	input.action.tool == "billing.refund"
	input.agent.role in {"admin", "finance", "support"}
	input.action.args.amount > 50
}

deny contains "deny-billing.refund-low-trust" if {
	input.action.tool == "billing.refund"
	input.agent.trust < 0.6
}

allow contains "allow-db.migrate" if {
	input.action.op == "exec"
	input.action.tool == "db.migrate"
	input.agent.role in {"admin", "ops"}
}

deny contains "deny-db.migrate-env" if {
	input.action.tool == "db.migrate"
	input.action.args.env == "prod"
}

approve contains "approve-db.migrate-tables" if {
	input.action.tool == "db.migrate"
	input.action.args.tables > 10
}

audit contains "audit-db.migrate-tables" if {
	input.action.op == "exec"
	input.action.tool == "db.migrate"
	input.agent.role in {"admin", "ops"}
	input.action.args.tables > 3
}

deny contains "deny-db.migrate-script-pattern" if {
	input.action.tool == "db.migrate"
	regex.match("(?i)\\bdrop\\s+column\\b", input.action.args.script)
}

