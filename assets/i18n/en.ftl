# SITHS card upgrade: the window's text in English.
# The same messages are in sv.ftl, and the test in src/gui/i18n.rs checks it.

app-title = SITHS card upgrade
nav-overview = Overview
nav-certificates = Certificates
nav-settings = Settings
continue = Continue
cancel = Cancel
save = Save
show = Show
hide = Hide
blocked = blocked
try-again = Try again
to-overview = Back to the overview
open-settings = Open the settings
contact-service-centre = Contact your service centre (SITHS administrator) for help.
insert-card-again = Put the card back in the reader.

## Demo mode
demo-preparing = Preparing the demo card and the test certificate authority …
demo-failed = The demo could not start: { $detail }
demo-banner = DEMO MODE: a virtual SITHS card and a test certificate authority on this computer. Nothing you do here affects a real card.
demo-codes = The demo card's codes: PIN1 { $pin1 }, PIN2 { $pin2 }, PUK { $puk }
demo-codes-operator = The operator card's codes: PIN1 { $pin1 }, PIN2 { $pin2 }, PUK { $puk }
demo-pull-card = Take the card out
demo-insert-card = Put the card in
demo-real-card = A card was inserted in the reader { $reader }.
demo-switch-to-card = Switch to the card in the reader
demo-leave = Use the card reader instead
demo-offer = No card at hand? Try the whole upgrade with a demo card on this computer.
demo-try = Try with a demo card

## Status line
status-card-in = Card in { $reader }
status-card-demo = The demo card (a virtual card on this computer)
status-no-service = The smart card service is not running
status-no-reader = No card reader
status-no-card = No card in the reader
status-reading = Reading the card …
status-not-siths = Not a SITHS card
status-choose-card = Several SITHS cards
status-in-use = Another program is using the card
status-unreadable = The card could not be read
task-verify-pin = Checking the PIN …
task-change-pin = Changing the PIN …
task-unblock-pin = Unblocking the PIN …
task-upgrade = Upgrading the card …
task-renew = Renewing the certificates …
task-test-login = Trying the login …
task-export = Saving the certificate …
task-fetch-list = Fetching the list from the certificate authority …
task-fetch-write = Writing certificates to the card …

## Start screen
start-no-service-title = The smart card service is not running
start-no-service-body = The computer's smart card service is needed to read the card, and it is not running. Ask your IT department to start it. The window notices by itself when it runs.
for-it = For the IT department
for-it-no-service = The smart card service (pcscd) is not running. Start it with the command below. The window notices by itself when the service runs.
copy-command = Copy the command
start-no-reader-title = No card reader found
start-no-reader-body = Connect your card reader. The window notices by itself when it is connected.
start-no-card-title = Insert your SITHS card
start-no-card-body = Put your SITHS card into the card reader, chip first.
start-reading-title = Reading the card
start-reading-body = Do not take the card out while it is being read.
start-not-siths-title = This is not a SITHS card
start-not-siths-body = The card in the reader has no SITHS e-identity. Take it out and insert your SITHS card.
start-choose-card-title = The computer sees several SITHS cards
start-choose-card-body = Choose the card to use. The choice is saved, so you are not asked again.
choose-card-button = { $label }, card number { $serial }
start-in-use-title = Another program is using the card
start-in-use-body = Close the program that uses the card (for example a browser or Net iD), then take the card out and put it back.
start-unreadable-title = The card could not be read
start-unreadable-body = Take the card out, put it back and wait a moment.

## Overview
holder-hsa-id = HSA-id
holder-personnummer = Personal identity number
card-serial = Card number
pairs-title = Certificates on the card
codes-title = Codes
tries-left = { $n ->
    [one] { $n } try left
   *[other] { $n } tries left
}
tries-all = all tries left
tries-fewer = fewer than { $max } tries left
tries-unknown = tries left not shown by the card's middleware
pin2-not-shown = The signing PIN is not shown by the card's software
puk-not-shown = The PUK is not shown by the card's software
code-not-shown = The code is not shown by the card's software
trust-level = trust level { $level }
trust-level-unknown = trust level unknown
legacy-certificate = old certificate, replaced by the upgrade
valid-until = valid until { $date }
expires-in-days = { $n ->
    [one] expires in { $n } day
   *[other] expires in { $n } days
}
expires-today = expires today
expired-days-ago = { $n ->
    [one] expired { $n } day ago
   *[other] expired { $n } days ago
}
expiry-banner = A certificate on the card { $when }. Upgrade the card, or wait for your new card if you have ordered one.
expiry-banner-renew = A certificate on the card { $when }. Renew it now to keep the card working. It takes a few minutes and you need PIN1 and PIN2.
expiry-banner-new-card = A certificate on the card { $when }. Order a new card from the service centre.
others-certs = { $n ->
    [one] { $n } certificate
   *[other] { $n } certificates
}
others-keys = { $n ->
    [one] { $n } key
   *[other] { $n } keys
}
others-on-card = Other objects on the card: { $what } — left as they are
certs-unreadable = { $n ->
    [one] One certificate on the card could not be read.
   *[other] { $n } certificates on the card could not be read.
}
verdict-dead = The PUK is blocked and the card can no longer be used. Order a new card from your service centre.
verdict-blocked = The { $pin } is blocked. Unblock it with your PUK before anything else.
verdict-upgrade = The card has the old certificate pair and needs upgrading. It takes a few minutes and you need PIN1 and PIN2.
verdict-renew = The card is upgraded, but its certificates expire soon. Renew them with the button above.
verdict-up-to-date = The card is upgraded and has the new certificates for both your HSA-id and your personal identity number.
action-upgrade = Upgrade the card
action-renew = Renew now
action-unblock = Unblock { $pin }
action-unblock-any = Forgot the PIN? Unblock with the PUK
action-change-pin = Change a PIN
action-fetch = Fetch existing certificates

## Names
pin1-name = PIN1 (identification)
pin2-name = PIN2 (signing)
puk-name = PUK
purpose-auth = Identification
purpose-sign = Signing
purpose-ca = Issuer certificate
purpose-other = Other use
identity-hsa = HSA-id
identity-pnr = Personal identity number
identity-samordning = Coordination number
identity-other = Other identity
identity-none = No identity
profile-hsa-auth = HSA-id, identification
profile-hsa-sign = HSA-id, signing
profile-pnr-auth = Personal identity number, identification
profile-pnr-sign = Personal identity number, signing

## Upgrade
upgrade-title = Upgrade the card
upgrade-intro = The upgrade gives the card new certificates for two identities, your HSA-id and your personal identity number, at trust level 3:
upgrade-intro-1 = The card makes four new keys. The private keys never leave the card.
upgrade-intro-2 = The certificate authority issues two certificates for your HSA-id and two for your personal identity number, one for identification and one for signing.
upgrade-intro-3 = Each new certificate is checked, written to the card and tried.
upgrade-intro-4 = Only then is the old certificate pair removed.
upgrade-keep-card = Keep the card in the reader until the upgrade has finished. If it is taken out, you can resume where it stopped.
pin-rules = A PIN has 6–8 digits. The PUK has 8 digits and is in your code letter.
enter-pin = { $pin }
enter-puk = PUK
enter-current-pin = Current { $pin }
enter-new-pin = New { $pin }
enter-new-pin-again = Repeat the new PIN
upgrade-start = Start the upgrade
upgrade-progress = Step { $done } of { $total }
upgrade-working = Working … keep the card in the reader.
cancel-after-step = Stopping after this step …
upgrade-done = The upgrade has finished.
upgrade-now-on-card = This is now on the card:
upgrade-legacy-removed = The old certificate pair is removed.
upgrade-resume = Resume the upgrade
upgrade-resume-explain = Nothing is lost: what is done stays on the card and with the certificate authority. Put the card back and resume, and the upgrade continues where it stopped.
renew-title = Renew the certificates
renew-intro = Renewal gives you new certificates before the old ones stop working:
renew-intro-1 = The card makes new keys. The private keys never leave the card.
renew-intro-2 = The certificate authority issues new certificates for the pairs that expire soon.
renew-intro-3 = Each new certificate is checked, written to the card and tried.
renew-intro-4 = Only then are the old certificates removed.
renew-keep-card = Keep the card in the reader until the renewal has finished. If it is taken out, you can resume where it stopped.
renew-start = Start the renewal
renew-done = The renewal has finished.
renew-old-removed = The old certificates are removed.
renew-resume = Resume the renewal
renew-resume-explain = Nothing is lost: what is done stays on the card and with the certificate authority. Put the card back and resume, and the renewal carries on where it stopped.
step-read-card = Card read
step-verify-pin = { $pin } accepted
step-log-in = Logged in to the certificate authority
step-generate-key = New key created: { $cert }
step-enrol = Certificate issued: { $cert }
step-write = Certificate written to the card: { $cert }
step-prove = Key tried: { $cert }
step-remove-legacy = Old certificate pair removed
step-rejected = The certificate in place { $slot } on the card fails the checks and is left as it is. It does not count as one of your SITHS certificates.
working-generate-key = The card is making a key for { $cert }. This usually takes a few seconds.
working-enrol = The certificate authority is issuing { $cert } …
step-remove-old = Old certificate removed: { $cert }
step-done = Done

## PINs
unblock-title = Unblock a PIN with the PUK
change-title = Change a PIN
which-pin = Which code:
rule-length = 6–8 digits
rule-digits = digits only
rule-not-trivial = not a simple run like 123456 or 111111
rule-not-old = not the same as the current PIN
rule-not-puk = not the same as the PUK
rule-match = the two new codes are the same
puk-last-try = The PUK has only one try left. If it is wrong, the card is blocked for good and you must order a new one.
puk-last-try-confirm = I have checked the PUK against my code letter and understand that the card is blocked if it is wrong
unblock-submit = Unblock
change-submit = Change the code
unblock-done = The { $pin } is unblocked and has your new code.
change-done = The { $pin } is changed.

## Certificates
certs-title = The certificates on the card
certs-intro = These are all the certificates on the card. Choose which one to log in with and try it against the certificate authority.
cert-unreadable = The certificate { $label } could not be read.
cert-holder = Holder
cert-trust = Trust level
trust-level-services = level { $level }, accepted by { $services }
trust-level-no-services = level { $level }, not accepted by NPÖ, Pascal or NLL
cert-validity = Valid
cert-issuer = Issuer
cert-fingerprint = Fingerprint (SHA-256)
use-for-login = Use for logging in
export-cert = Save { $label } to a file
export-dir = Save certificates in the folder
exported-to = Saved in { $path }
test-login-title = Try the login
test-login-explain = Log in to the certificate authority with the chosen certificate to see that it works and who it logs you in as.
test-login = Try the login
test-login-ok = The login works: you are logged in as { $name } ({ $hsa }).
chooser-help-title = Help: when a program asks you to choose a certificate
chooser-help-1 = After the upgrade the card has two identification certificates: one with your HSA-id and one with your personal identity number.
chooser-help-2 = Log in to healthcare systems (records, NPÖ, Pascal) with the HSA-id certificate unless the system says otherwise.
chooser-help-3 = The personal identity number certificate is for where you log in as a private person or where the service asks for it.
chooser-help-4 = Choose a signing certificate (PIN2) only when you are about to sign something.

## Fetch existing certificates
fetch-title = Fetch existing certificates
fetch-intro = The certificate authority keeps the certificates it issued to you. Certificates whose key is on this card can be written back to it.
fetch-list = Fetch the list
fetch-none = The certificate authority holds no certificates for you.
fetch-write = Write the chosen ones to the card
fetch-written = { $n ->
    [one] One certificate was written to the card.
   *[other] { $n } certificates were written to the card.
}
fit-writable = can be written to the card, which holds its key
fit-already = already on the card
fit-other-card = cannot go here: its key is on another card
fit-expired = has expired
fit-wrong-slot = cannot go onto this card: its key is on the card, but in a place meant for another kind of certificate
fit-fails-checks = cannot go onto this card: it fails the checks

## Settings
settings-title = Settings
settings-language = Language
settings-ca-url = The certificate authority's address
settings-ca-root = The certificate authority's root certificate (PEM file)
settings-pkcs11 = The card's middleware (PKCS#11 module)
settings-pkcs11-help = Leave empty to read the card directly. Give a path, or safenet, netid, opensc.
card-read-via = Card reached through
settings-reader = Card reader
settings-reader-auto = First reader with a card
settings-demo-ca = In demo mode the test certificate authority at { $url } is used.
settings-saved = The settings are saved.
settings-notice-fields = Some settings could not be read and are back to their defaults: { $fields }. The other settings are kept. Check them under Settings.
settings-notice-unreadable = The settings file could not be read, so all settings are back to their defaults. Check them under Settings.
settings-notice-kept = The original file is kept as { $file }.
settings-notice-not-saved = The original file could not be kept aside, so no change to the settings is saved until the program is started again.
settings-notice-close = Close
settings-field-login-certificate = Chosen certificate for logging in
settings-field-desk-operator-reader = The desk's reader for your card
settings-field-desk-customer-reader = The desk's reader for the customer's card

## Errors
show-technical = Show technical details
copy-technical = Copy the technical details
err-no-service = The smart card service is not running. Ask your IT department to start it, then try again.
err-no-reader = No card reader found. Connect a reader and try again.
err-reader-not-found = The card reader "{ $reader }" does not exist. Choose another reader in the settings.
err-no-card = No card in the reader. Insert your SITHS card.
err-desk-identity-first = Check the customer's identity first. Nothing on the customer's card changes before that, and no tries were used. Go to the Service desk tab, confirm the identity, then try again.
err-desk-audit-broken = The audit log cannot be used, so nothing on the customer's card changes. Contact the IT department; the fault is shown on the Service desk tab.
err-card-in-use = Another program is using the card. Close it (for example a browser or Net iD) and try again.
err-card-removed = The card was taken out before the work was finished. Put it back. Nothing is lost.
err-card-reset = Another program reset the card. Try again.
err-unresponsive = The card does not answer. Take it out, put it back and try again.
err-cancelled = The wait for the card was cancelled.
err-malformed-answer = The card sent a malformed answer. Take it out, put it back and try again. Contact the service centre if it happens again.
err-pcsc-other = Something went wrong in the computer's smart card service. Try again. If that does not help, ask your IT department to restart the smart card service.
err-pin-not-digits = A code is digits only. Type it again – no try was used up.
err-pin-length = A PIN has 6–8 digits, this one has { $len }. Type it again – no try was used up.
err-puk-length = The PUK has 8 digits, this one has { $len }. Check your code letter – no try was used up.
err-pin-mismatch = The two new codes differ. Type the new code again.
err-not-siths = This is not a SITHS card. Insert your SITHS card.
err-wrong-pin = Wrong { $pin }, { $n ->
    [one] { $n } try left.
   *[other] { $n } tries left.
}
err-wrong-pin-last = Wrong { $pin }, 1 try left. If the next one is wrong too, the PIN is blocked and you need your PUK.
err-wrong-puk = Wrong PUK, { $n ->
    [one] { $n } try left.
   *[other] { $n } tries left.
} If every try is wrong, the card is blocked for good.
err-pin-blocked = The { $pin } is blocked. Unblock it with your PUK.
err-card-dead = The PUK is blocked and the card can no longer be used. Order a new card from your service centre.
err-not-verified = The { $pin } must be entered first. Enter it and try again.
err-new-pin-refused = The card did not accept the new code. Use 6–8 digits.
err-puk-not-changeable = The PUK cannot be changed, only PIN1 and PIN2 can.
err-no-such-code = This card has no { $pin }: it came with one code for logging in and signing alike. Use your PIN1.
one-code-card = This card has one code for both logging in and signing.
err-card-layout = The card's content is not as expected. Contact the service centre.
err-card-damaged = The card's data is damaged. Contact the service centre.
err-wrong-pin-fewer = Wrong { $pin }, fewer than { $max } tries left (the card's middleware does not say exactly how many).
err-p11-module-missing = The card's middleware was not found. Install the card's middleware (SafeNet Authentication Client, Net iD or OpenSC) or say where it is in the settings.
err-p11-module-broken = The card's middleware { $module } cannot be loaded. Reinstall the middleware or choose another in the settings.
err-p11-no-token = The middleware { $module } sees no card. Insert your SITHS card and check that the card reader is connected.
err-p11-token-not-found = The middleware sees no card named { $wanted } (it sees: { $seen }). Insert that card or choose one of those.
err-p11-several-cards = The computer sees several SITHS cards. Choose the card to use.
err-p11-not-siths = The computer sees no SITHS card, only other cards, which are left as they are. Insert your SITHS card.
err-p11-empty-name = The card name is empty and would match every card. Give the card's name or card number in the settings.
err-p11-not-supported = This middleware cannot do all that is needed on the card. Use the card's own middleware (SafeNet Authentication Client in Inera's SITHS eID app) or contact the service centre.
err-p11-pin-not-shown = The card's software (its middleware) does not show the signing PIN, so it cannot be checked, changed or unblocked here. Use the card's own middleware (SafeNet Authentication Client in Inera's SITHS eID app) for the signing PIN.
err-p11-puk-not-shown = The card's software (its middleware) does not show the PUK, so no PIN can be unblocked with it here. Use the card's own middleware (SafeNet Authentication Client in Inera's SITHS eID app) or contact the service centre.
err-p11-pin2-in-middleware = This middleware checks the signing PIN (PIN2) only when you sign, and changes or unblocks it only in its own program. Use the middleware's tool for PIN2.
err-p11-failed = The card's middleware refused. Take the card out, put it back and try again. Contact the service centre if it happens again.
err-ca-took-another = The certificate authority took this card for { $ca }, but the card's login certificate names { $card }. Nothing was changed. Contact the service centre.
err-customer-not-trusted = The customer's card carries no certificate this certificate authority stands behind. No PUK was fetched. Check that this is the customer's own card, and contact the service centre.
err-card-refused = The card did not answer as expected. Take the card out, put it back and try again. Contact the service centre if it happens again.
err-ca-unreachable = The certificate authority at { $url } cannot be reached. Check the network and the address and try again. Nothing on the card was changed.
err-ca-not-trusted = The certificate authority's server certificate is not trusted. Check the root certificate and the address in the settings. Nothing on the card was changed.
err-ca-refused-card = The certificate authority did not accept the card's login certificate. Contact the service centre. Nothing on the card was changed.
err-ca-tls = The secure connection to the certificate authority failed. Check the address and try again. Nothing on the card was changed.
err-ca-pin-not-verified = The card does not sign the login without PIN1. Enter PIN1 and try again.
err-ca-malformed = The certificate authority's answer could not be understood. Check that the address in the settings is right and try again. Nothing on the card was changed.
err-ca-config = The connection to the certificate authority cannot be set up. Check the settings.
err-csr = The certificate request could not be built. Nothing on the card was changed. Try again.
err-ca-not-set = The certificate authority's address or root certificate is missing. Enter them in the settings.
err-file = The file { $path } could not be used. Choose another place and try again.
err-refusal-not-allowed = The certificate authority does not allow an upgrade of your card. Contact the service centre.
err-refusal-deadline = The last day for upgrades has passed. Contact the service centre for a new card.
err-refusal-profile = A coordination number cannot get certificates for a personal identity number. Contact the service centre.
err-refusal-unknown-person = The certificate authority does not recognise you. Contact the service centre.
err-refusal-other = The certificate authority refused. Try again later, and contact the service centre if it happens again.
err-refusal-renewal-not-due = Certificates can be renewed only in their last 30 days. Renew when the reminder comes.
err-refusal-already-enrolled = You already hold a valid certificate of this kind for another key. Fetch the existing one, or contact the service centre.
err-refusal-level-too-low = The card's login is at trust level 2, which is not enough for this. Contact the service centre for an identity check.
err-refusal-login-replaced = The certificate you logged in with was already replaced by a renewed one. Try again, and the new one is used.
err-refusal-customer-card = The customer's card must be in the customer's reader to fetch the PUK. Insert the card and fetch again.
err-refusal-challenge = The lookup took too long or was already made. Fetch the PUK again.
err-cert-check = The certificate “{ $cert }” was refused, and nothing was written to the card. Try again, and contact the service centre if it happens again.
err-profile-missing = The certificate authority does not offer you the certificate “{ $cert }”, so the card cannot get all the new certificates. Contact the service centre.
err-no-login-cert = The card has no identification certificate to log in to the certificate authority with. Contact the service centre.
err-not-upgraded = The card has not been upgraded yet, so there is nothing to renew. Upgrade the card first.
err-job-cancelled = Stopped. What is done stays on the card, and you can carry on whenever you like.
err-login-expired = The authentication certificate of this pair has expired, so it cannot be renewed. Order a new card from the service centre.
err-slot-in-use = The card already holds a certificate in a place the upgrade needs, and it is not part of the upgrade. Contact the service centre.
err-untrusted-cert = The certificate in place { $slot } on the card looks like a SITHS certificate but fails the checks. It was left as it is, and nothing else was removed because of it. Contact the service centre.
err-not-writable = The certificate { $detail }. Choose among those that can be written to the card, or contact the service centre.
err-proof-failed = A new key on the card did not give a valid signature (“{ $cert }”). Take the card out, put it back and resume the upgrade.

## The service-centre desk
nav-desk = Service desk
task-puk-lookup = Fetching the PUK from the certificate authority …
desk-title = Service desk
desk-operator-card = Your card (operator)
desk-insert-operator-card = Put your own SITHS card in the other reader.
desk-customer-card = The customer's card
desk-need-second-reader = A second card reader is needed: one for your own card and one for the customer's. Connect another reader and put the customer's card in it.
desk-insert-customer-card = Ask the customer to insert their card.
desk-card-serial = Card number { $serial }
desk-tries = Tries left: PIN1 { $pin1 }, PIN2 { $pin2 }, PUK { $puk }
desk-upgrade-possible = Upgrade: possible
desk-upgrade-not-needed = Upgrade: not needed
desk-verdict-dead = The PUK is blocked: order a new card.
desk-verdict-blocked = { $pin } is blocked: unblock it with the PUK.
desk-verdict-expiring = The certificate { $when }: upgrade or wait for the new card.
desk-verdict-upgrade = The card has the old pair: upgrade it.
desk-verdict-renew = The certificates { $when }: renew them now.
desk-verdict-ok = The card is in order.
desk-identity-title = Check the customer's identity
desk-identity-explain = Before any help that changes the card: see the customer's ID document, note the last four characters of its number and compare the photo.
desk-id-document = ID document
desk-id-choose = Choose …
desk-id-last-four = Last four characters
desk-id-photo = The photo matches the person
desk-identity-confirm = Confirm the identity
desk-identity-done = The identity is checked ({ $doc }, …{ $last }).
id-doc-passport = Passport
id-doc-national = National ID card
id-doc-driving = Driving licence
id-doc-employee = Employee card
desk-help-title = Help with the card
desk-check-first = Check the identity first. Nothing is unblocked or looked up before that.
desk-check-first-here = Check the customer's identity first, on the Service desk tab. Nothing on the customer's card changes before that.
desk-puk-explain = The PUK is fetched from the certificate authority with your card. Say why – the certificate authority logs who asked, for whom and why.
desk-reason = Reason
desk-operator-pin = Your PIN1 (the operator's)
desk-fetch-puk = Fetch the customer's PUK
desk-puk-fetched = PUK: { $puk }
desk-puk-reveal = Show the PUK
desk-puk-customer-types = The PUK is not saved. The customer types their new PIN themselves.
desk-audit-status = The log: { $path } ({ $n } entries)
desk-audit-broken = The log cannot be used ({ $detail }). No help that changes cards until it works – contact the IT department.

## The desk's steps
desk-step = { $n }. { $title }
desk-puk-title = The customer's PUK
desk-reason-forgot-pin1 = Forgot PIN1
desk-reason-forgot-pin2 = Forgot PIN2
desk-reason-blocked = Blocked code
desk-audit-entries = The audit log: { $n ->
    [one] { $n } entry
   *[other] { $n } entries
}

## The upgrade's milestones and next step
milestone-hsa = New HSA-id pair
milestone-pnr = New personal identity number pair
milestone-remove-legacy = Removing the old certificate pair
show-details = Show details
upgrade-next-login = Next: try logging in. When the login asks for a certificate, choose HSA-id, identification.
action-try-login = Try logging in
