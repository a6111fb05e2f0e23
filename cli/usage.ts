// The help text of `flotilla --help`. Where each command's handler is: commands/index.ts.
export const USAGE = `usage: flotilla <command> [options]

Releases
  publish <dir> --app A --version V [--source URL] [--revision REV]   build, push and register a release
  diff <dir> --app A --version V                  what the directory changes against a published release
  block <app> <version> --reason R [--recall]     --recall: every pin and rollout holding it moves back
  unblock <app> <version> --reason R
Promotion
  promote <app> <version> --to ENV [--region R] --reason R [--override REASON]
                                                   into an environment with waves: starts a rollout;
                                                   --override: break-glass through failed gates
  rollback <app> --env ENV [--region R] --reason R
  history <app> [--env ENV] [--region R]           promotion records, oldest first
Progressive delivery
  rollout status <app> [--env ENV] [<rollout-id>]  waves, gates and clusters of a rollout (default: the newest)
  rollout pause|resume|abort <app> <rollout-id> --reason R   abort moves the waves it moved back
  approve <app> <version> --env ENV --reason R     approve a release for an environment (not its publisher)
  freeze                                           show the org-wide freeze
  freeze --reason R [--until TIME]                 freeze every environment (until lifted, or TIME)
  unfreeze --reason R                              lift the freeze
Fleet
  status                                           the app × environment × region matrix
  clusters                                         clusters with last check-in and app phases
  drift <cluster>                                  current and recent drift of a cluster
  events [--app A] [--cluster C] [--env E] [--type T] [--limit N] [--all]   newest first page, or --all
  suspend|resume <cluster> [--app A] --reason R [--until TIME]
Setup (admin)
  app create <name> --repository REPO [--namespace NS] [--path P] [--depends-on A,B] [--drift correct|report] [--verify-key cosign.pub]
  app update <name> [--repository REPO] [--namespace NS] [--path P] [--depends-on A,B] [--drift correct|report] [--verify-key F]
                                                   update: the stored app with these changed; --depends-on '' clears
  env create <name> [--upstream ENV] [--config FILE]   FILE: JSON with gates, waves, autoRollback, windows
  policy <app> <env> (--track RANGE | --manual) [--verify-key cosign.pub]
  cluster create <name> --env ENV --region R [--label k=v ...]
  cluster token <name>                             one-time agent registration token
  cluster revoke <name> --reason R
  token create --subject S --role ROLE [--app A ...] [--env E ...] [--ttl DAYS]
  agent install <cluster> [--least-privilege] [--image IMG] [--namespace NS] [--registry-secret NAME]
Notifications (admin)
  notify create (--webhook URL | --slack URL | --github [--github-api URL] [--context C])
                [--type T,T] [--app A] [--env E] [--cluster C] [--severity info|warning|critical] [--name N]
                                                   --github: token from FLOTILLA_GITHUB_TOKEN or --github-token-file F;
                                                   a webhook's signing secret is printed once
  notify list                                      subscriptions (secrets and tokens are never shown)
  notify test <id> [--app A --version V]           send a test message and wait for its outcome
                                                   (GitHub: a pending status on that release's commit)
  notify deliveries <id> [--limit N]               newest deliveries with their last attempt
  notify redeliver <id> <delivery>                 send a delivery again now
  notify rotate <id> [--github [--github-token-file F]]   a new signing secret (the old one signs for 24 h) or token
  notify delete <id>

Options: --json (machine output), --url URL, --token TOKEN
Settings: FLOTILLA_URL, FLOTILLA_TOKEN, FLOTILLA_REGISTRY_USERNAME/PASSWORD/TOKEN, or the config
file ~/.config/flotilla/config.json ({"url","token","registry":{...}}); Docker's config.json for registries.
Exit codes: 0 ok, 1 failure, 2 usage or invalid input, 3 unauthorized/forbidden, 4 not found, 5 conflict,
6 the control plane is busy (retry).`;
