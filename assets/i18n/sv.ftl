# SITHS-kortuppgradering: fönstrets texter på svenska (standardspråket).
# Samma meddelanden finns i en.ftl, och testet i src/gui/i18n.rs kontrollerar det.

app-title = SITHS-kortuppgradering
nav-overview = Översikt
nav-certificates = Certifikat
nav-settings = Inställningar
continue = Fortsätt
cancel = Avbryt
save = Spara
show = Visa
hide = Dölj
blocked = spärrad
try-again = Försök igen
to-overview = Till översikten
open-settings = Öppna inställningarna
contact-service-centre = Kontakta ditt servicecenter (SITHS-administratör) för hjälp.
insert-card-again = Sätt i kortet igen.

## Demoläge
demo-preparing = Förbereder demokortet och testutfärdaren …
demo-failed = Demoläget kunde inte startas: { $detail }
demo-banner = DEMOLÄGE: ett virtuellt SITHS-kort och en testversion av certifikatutfärdaren på den här datorn. Inget du gör här påverkar ett riktigt kort.
demo-codes = Demokortets koder: PIN1 { $pin1 }, PIN2 { $pin2 }, PUK-kod { $puk }
demo-codes-operator = Handläggarkortets koder: PIN1 { $pin1 }, PIN2 { $pin2 }, PUK-kod { $puk }
demo-pull-card = Ta ut kortet
demo-insert-card = Sätt i kortet
demo-real-card = Ett kort sattes i läsaren { $reader }.
demo-switch-to-card = Byt till kortet i läsaren
demo-leave = Använd kortläsaren i stället
demo-offer = Inget kort till hands? Prova hela uppgraderingen med ett demokort på den här datorn.
demo-try = Prova med ett demokort

## Statusraden
status-card-in = Kort i { $reader }
status-card-demo = Demokortet (ett virtuellt kort på den här datorn)
status-no-service = Smartkortstjänsten körs inte
status-no-reader = Ingen kortläsare
status-no-card = Inget kort i läsaren
status-reading = Läser kortet …
status-not-siths = Inte ett SITHS-kort
status-choose-card = Flera SITHS-kort
status-in-use = Kortet används av ett annat program
status-unreadable = Kortet kunde inte läsas
task-verify-pin = Kontrollerar PIN-koden …
task-change-pin = Byter PIN-kod …
task-unblock-pin = Låser upp PIN-koden …
task-upgrade = Uppgraderar kortet …
task-renew = Förnyar certifikaten …
task-test-login = Provar inloggningen …
task-export = Sparar certifikatet …
task-fetch-list = Hämtar listan från certifikatutfärdaren …
task-fetch-write = Skriver certifikat till kortet …

## Startskärmen
start-no-service-title = Smartkortstjänsten körs inte
start-no-service-body = Datorns smartkortstjänst behövs för att läsa kortet, och den är inte igång. Be din IT-avdelning om hjälp att starta den. Fönstret märker själv när den är igång.
for-it = För IT-avdelningen
for-it-no-service = Smartkortstjänsten (pcscd) körs inte. Starta den med kommandot nedan. Fönstret märker själv när tjänsten är igång.
copy-command = Kopiera kommandot
start-no-reader-title = Ingen kortläsare hittades
start-no-reader-body = Anslut din kortläsare. Fönstret märker själv när den är ansluten.
start-no-card-title = Sätt i ditt SITHS-kort
start-no-card-body = Sätt i ditt SITHS-kort i kortläsaren med chipet först.
start-reading-title = Läser kortet
start-reading-body = Ta inte ut kortet medan det läses.
start-not-siths-title = Det här är inte ett SITHS-kort
start-not-siths-body = Kortet i läsaren har ingen SITHS-e-legitimation. Ta ut det och sätt i ditt SITHS-kort.
start-choose-card-title = Datorn ser flera SITHS-kort
start-choose-card-body = Välj vilket kort du vill använda. Valet sparas, så att du inte behöver välja igen.
choose-card-button = { $label }, kortnummer { $serial }
start-in-use-title = Ett annat program använder kortet
start-in-use-body = Stäng programmet som använder kortet (till exempel en webbläsare eller Net iD) och ta ut och sätt i kortet igen.
start-unreadable-title = Kortet kunde inte läsas
start-unreadable-body = Ta ut kortet, sätt i det igen och vänta en stund.

## Översikten
holder-hsa-id = HSA-id
holder-personnummer = Personnummer
card-serial = Kortnummer
pairs-title = Certifikat på kortet
codes-title = Koder
tries-left = { $n } försök kvar
tries-all = alla försök kvar
tries-fewer = färre än { $max } försök kvar
tries-unknown = antal försök visas inte av kortets mellanprogram
pin2-not-shown = Underskriftskoden visas inte av kortets programvara
puk-not-shown = PUK-koden visas inte av kortets programvara
code-not-shown = Koden visas inte av kortets programvara
trust-level = tillitsnivå { $level }
trust-level-unknown = tillitsnivå okänd
legacy-certificate = gammalt certifikat, ersätts vid uppgraderingen
valid-until = giltigt t.o.m. { $date }
expires-in-days = { $n ->
    [one] går ut om { $n } dag
   *[other] går ut om { $n } dagar
}
expires-today = går ut i dag
expired-days-ago = { $n ->
    [one] gick ut för { $n } dag sedan
   *[other] gick ut för { $n } dagar sedan
}
expiry-banner = Ett certifikat på kortet { $when }. Uppgradera kortet, eller vänta på ditt nya kort om du har beställt ett.
expiry-banner-renew = Ett certifikat på kortet { $when }. Förnya det nu, så fortsätter kortet att fungera. Det tar några minuter och du behöver PIN1 och PIN2.
expiry-banner-new-card = Ett certifikat på kortet { $when }. Beställ ett nytt kort från servicecenter.
others-certs = { $n ->
    [one] { $n } certifikat
   *[other] { $n } certifikat
}
others-keys = { $n ->
    [one] { $n } nyckel
   *[other] { $n } nycklar
}
others-on-card = Andra objekt på kortet: { $what } — lämnas orörda
certs-unreadable = { $n ->
    [one] Ett certifikat på kortet kunde inte läsas.
   *[other] { $n } certifikat på kortet kunde inte läsas.
}
verdict-dead = PUK-koden är spärrad och kortet kan inte längre användas. Beställ ett nytt kort via ditt servicecenter.
verdict-blocked = { $pin } är spärrad. Lås upp den med din PUK-kod innan du gör något annat.
verdict-upgrade = Kortet har det gamla certifikatparet och behöver uppgraderas. Det tar några minuter och du behöver PIN1 och PIN2.
verdict-renew = Kortet är uppgraderat, men certifikaten går snart ut. Förnya dem med knappen ovan.
verdict-up-to-date = Kortet är uppgraderat och har de nya certifikaten för både ditt HSA-id och ditt personnummer.
action-upgrade = Uppgradera kortet
action-renew = Förnya nu
action-unblock = Lås upp { $pin }
action-unblock-any = Glömt PIN-koden? Lås upp med PUK-koden
action-change-pin = Byt PIN-kod
action-fetch = Hämta befintliga certifikat

## Namn
pin1-name = PIN1 (legitimering)
pin2-name = PIN2 (underskrift)
puk-name = PUK-kod
purpose-auth = Legitimering
purpose-sign = Underskrift
purpose-ca = Utfärdarcertifikat
purpose-other = Annan användning
identity-hsa = HSA-id
identity-pnr = Personnummer
identity-samordning = Samordningsnummer
identity-other = Annan identitet
identity-none = Ingen identitet
profile-hsa-auth = HSA-id, legitimering
profile-hsa-sign = HSA-id, underskrift
profile-pnr-auth = Personnummer, legitimering
profile-pnr-sign = Personnummer, underskrift

## Uppgraderingen
upgrade-title = Uppgradera kortet
upgrade-intro = Uppgraderingen ger kortet nya certifikat för två identiteter, ditt HSA-id och ditt personnummer, på tillitsnivå 3:
upgrade-intro-1 = Kortet skapar fyra nya nycklar. De privata nycklarna lämnar aldrig kortet.
upgrade-intro-2 = Certifikatutfärdaren utfärdar två certifikat för ditt HSA-id och två för ditt personnummer, ett för legitimering och ett för underskrift.
upgrade-intro-3 = Varje nytt certifikat kontrolleras, skrivs till kortet och provas.
upgrade-intro-4 = Först därefter tas det gamla certifikatparet bort.
upgrade-keep-card = Låt kortet sitta kvar i läsaren tills uppgraderingen är klar. Tas det ut kan du fortsätta där det stannade.
pin-rules = En PIN-kod har 6–8 siffror. PUK-koden har 8 siffror och står i ditt kodbrev.
enter-pin = { $pin }
enter-puk = PUK-kod
enter-current-pin = Nuvarande { $pin }
enter-new-pin = Ny { $pin }
enter-new-pin-again = Upprepa den nya PIN-koden
upgrade-start = Starta uppgraderingen
upgrade-progress = Steg { $done } av { $total }
upgrade-working = Arbetar … låt kortet sitta kvar.
cancel-after-step = Avbryter efter det här steget …
upgrade-done = Uppgraderingen är klar.
upgrade-now-on-card = Det här finns nu på kortet:
upgrade-legacy-removed = Det gamla certifikatparet är borttaget.
upgrade-resume = Fortsätt uppgraderingen
upgrade-resume-explain = Inget har gått förlorat: det som redan är gjort ligger kvar på kortet och hos certifikatutfärdaren. Sätt i kortet igen och fortsätt, så tar uppgraderingen vid där den stannade.
renew-title = Förnya certifikaten
renew-intro = Förnyelsen ger dig nya certifikat innan de gamla slutar gälla:
renew-intro-1 = Kortet skapar nya nycklar. De privata nycklarna lämnar aldrig kortet.
renew-intro-2 = Certifikatutfärdaren utfärdar nya certifikat för de par som snart går ut.
renew-intro-3 = Varje nytt certifikat kontrolleras, skrivs till kortet och provas.
renew-intro-4 = Först därefter tas de gamla certifikaten bort.
renew-keep-card = Låt kortet sitta kvar i läsaren tills förnyelsen är klar. Tas det ut kan du fortsätta där det stannade.
renew-start = Starta förnyelsen
renew-done = Förnyelsen är klar.
renew-old-removed = De gamla certifikaten är borttagna.
renew-resume = Fortsätt förnyelsen
renew-resume-explain = Inget har gått förlorat: det som redan är gjort ligger kvar på kortet och hos certifikatutfärdaren. Sätt i kortet igen och fortsätt, så tar förnyelsen vid där den stannade.
step-read-card = Kortet är läst
step-verify-pin = { $pin } godkänd
step-log-in = Inloggad hos certifikatutfärdaren
step-generate-key = Ny nyckel skapad: { $cert }
step-enrol = Certifikat utfärdat: { $cert }
step-write = Certifikat skrivet till kortet: { $cert }
step-prove = Nyckeln provad: { $cert }
step-remove-legacy = Det gamla certifikatparet är borttaget
step-rejected = Certifikatet på plats { $slot } på kortet klarar inte kontrollen och lämnas orört. Det räknas inte som ett av dina SITHS-certifikat.
working-generate-key = Kortet skapar en nyckel för { $cert }. Det brukar ta några sekunder.
working-enrol = Certifikatutfärdaren utfärdar { $cert } …
step-remove-old = Det gamla certifikatet är borttaget: { $cert }
step-done = Klart

## PIN-koder
unblock-title = Lås upp en PIN-kod med PUK-koden
change-title = Byt PIN-kod
which-pin = Vilken kod:
rule-length = 6–8 siffror
rule-digits = bara siffror
rule-not-trivial = ingen enkel följd som 123456 eller 111111
rule-not-old = inte samma som den nuvarande PIN-koden
rule-not-puk = inte samma som PUK-koden
rule-match = de två nya koderna är lika
puk-last-try = PUK-koden har bara ett försök kvar. Är den fel spärras kortet för alltid och du måste beställa ett nytt.
puk-last-try-confirm = Jag har kontrollerat PUK-koden mot mitt kodbrev och förstår att kortet spärras om den är fel
unblock-submit = Lås upp
change-submit = Byt kod
unblock-done = { $pin } är upplåst och har din nya kod.
change-done = { $pin } är bytt.

## Certifikaten
certs-title = Certifikaten på kortet
certs-intro = Här är alla certifikat på kortet. Välj vilket du vill logga in med och prova det mot certifikatutfärdaren.
cert-unreadable = Certifikatet { $label } kunde inte läsas.
cert-holder = Innehavare
cert-trust = Tillitsnivå
trust-level-services = nivå { $level }, godtas av { $services }
trust-level-no-services = nivå { $level }, godtas inte av NPÖ, Pascal eller NLL
cert-validity = Giltigt
cert-issuer = Utfärdare
cert-fingerprint = Fingeravtryck (SHA-256)
use-for-login = Använd för inloggning
export-cert = Spara { $label } som fil
export-dir = Spara certifikat i mappen
exported-to = Sparat i { $path }
test-login-title = Prova inloggningen
test-login-explain = Logga in hos certifikatutfärdaren med det valda certifikatet för att se att det fungerar och vem du loggas in som.
test-login = Prova inloggning
test-login-ok = Inloggningen fungerar: du loggas in som { $name } ({ $hsa }).
chooser-help-title = Hjälp: när ett program ber dig välja certifikat
chooser-help-1 = Efter uppgraderingen har kortet två certifikat för legitimering: ett med ditt HSA-id och ett med ditt personnummer.
chooser-help-2 = Logga in i vårdens system (journal, NPÖ, Pascal) med HSA-id-certifikatet, om inte systemet säger något annat.
chooser-help-3 = Personnummercertifikatet används där du loggar in som privatperson eller där tjänsten ber om det.
chooser-help-4 = Underskriftscertifikaten (PIN2) väljer du bara när du ska skriva under något.

## Hämta befintliga certifikat
fetch-title = Hämta befintliga certifikat
fetch-intro = Certifikatutfärdaren sparar de certifikat den har utfärdat till dig. Certifikat vars nyckel finns på det här kortet kan skrivas tillbaka hit.
fetch-list = Hämta listan
fetch-none = Certifikatutfärdaren har inga certifikat för dig.
fetch-write = Skriv valda till kortet
fetch-written = { $n ->
    [one] Ett certifikat skrevs till kortet.
   *[other] { $n } certifikat skrevs till kortet.
}
fit-writable = kan skrivas till kortet, som har nyckeln till det
fit-already = finns redan på kortet
fit-other-card = kan inte skrivas hit: nyckeln finns på ett annat kort
fit-expired = har gått ut
fit-wrong-slot = kan inte skrivas hit: nyckeln ligger på kortet, men på en plats som är till för en annan sorts certifikat
fit-fails-checks = kan inte skrivas hit: det klarar inte kontrollerna

## Inställningar
settings-title = Inställningar
settings-language = Språk
settings-ca-url = Certifikatutfärdarens adress
settings-ca-root = Certifikatutfärdarens rotcertifikat (PEM-fil)
settings-pkcs11 = Kortets mellanprogram (PKCS#11-modul)
settings-pkcs11-help = Lämna tomt för att läsa kortet direkt. Ange en sökväg eller safenet, netid, opensc.
card-read-via = Kortet nås via
settings-reader = Kortläsare
settings-reader-auto = Första läsaren med ett kort
settings-demo-ca = I demoläget används testutfärdaren på { $url }.
settings-saved = Inställningarna är sparade.
settings-notice-fields = Några inställningar gick inte att läsa och har fått sina standardvärden: { $fields }. Övriga inställningar är kvar. Se över dem under Inställningar.
settings-notice-unreadable = Inställningsfilen gick inte att läsa, så alla inställningar har fått sina standardvärden. Se över dem under Inställningar.
settings-notice-kept = Originalfilen finns kvar som { $file }.
settings-notice-not-saved = Originalfilen gick inte att spara undan, så inga ändringar av inställningarna sparas förrän programmet startas om.
settings-notice-close = Stäng
settings-field-login-certificate = Valt certifikat för inloggning
settings-field-desk-operator-reader = Diskens läsare för ditt kort
settings-field-desk-customer-reader = Diskens läsare för kundens kort

## Fel
show-technical = Visa teknisk information
copy-technical = Kopiera den tekniska informationen
err-no-service = Smartkortstjänsten körs inte. Be din IT-avdelning starta den och försök sedan igen.
err-no-reader = Ingen kortläsare hittades. Anslut en läsare och försök igen.
err-reader-not-found = Kortläsaren "{ $reader }" finns inte. Välj en annan läsare i inställningarna.
err-no-card = Inget kort i läsaren. Sätt i ditt SITHS-kort.
err-desk-identity-first = Kontrollera kundens identitet först. Inget på kundens kort ändras innan dess, och inga försök har gått åt. Gå till fliken Servicedisk, bekräfta identiteten och försök sedan igen.
err-desk-audit-broken = Granskningsloggen kan inte användas, så inget på kundens kort ändras. Kontakta IT-avdelningen; felet står på fliken Servicedisk.
err-card-in-use = Ett annat program använder kortet. Stäng det (till exempel en webbläsare eller Net iD) och försök igen.
err-card-removed = Kortet togs ut mitt i arbetet. Sätt i det igen. Inget har gått förlorat.
err-card-reset = Kortet återställdes av ett annat program. Försök igen.
err-unresponsive = Kortet svarar inte. Ta ut det, sätt i det igen och försök igen.
err-cancelled = Väntan på kortet avbröts.
err-malformed-answer = Kortet gav ett felaktigt svar. Ta ut det, sätt i det igen och försök igen. Kontakta servicecenter om det händer igen.
err-pcsc-other = Något gick fel i datorns smartkortstjänst. Försök igen. Hjälper inte det, be din IT-avdelning starta om smartkortstjänsten.
err-pin-not-digits = En kod består bara av siffror. Skriv den igen – inget försök förbrukades.
err-pin-length = En PIN-kod har 6–8 siffror, den här har { $len }. Skriv den igen – inget försök förbrukades.
err-puk-length = PUK-koden har 8 siffror, den här har { $len }. Kontrollera ditt kodbrev – inget försök förbrukades.
err-pin-mismatch = De två nya koderna är olika. Skriv den nya koden igen.
err-not-siths = Kortet är inte ett SITHS-kort. Sätt i ditt SITHS-kort.
err-wrong-pin = Fel { $pin }, { $n } försök kvar.
err-wrong-pin-last = Fel { $pin }, 1 försök kvar. Om nästa försök också är fel spärras koden och du behöver din PUK-kod.
err-wrong-puk = Fel PUK-kod, { $n } försök kvar. Om alla försök blir fel spärras kortet för alltid.
err-pin-blocked = { $pin } är spärrad. Lås upp den med din PUK-kod.
err-card-dead = PUK-koden är spärrad och kortet kan inte användas längre. Beställ ett nytt kort via ditt servicecenter.
err-not-verified = { $pin } måste anges först. Ange den och försök igen.
err-new-pin-refused = Kortet godtog inte den nya koden. Använd 6–8 siffror.
err-puk-not-changeable = PUK-koden kan inte bytas, bara PIN1 och PIN2.
err-no-such-code = Kortet har ingen { $pin }: det har en och samma kod för legitimering och underskrift. Använd din PIN1.
one-code-card = Kortet har en och samma kod för legitimering och underskrift.
err-card-layout = Kortets innehåll är inte som väntat. Kontakta servicecenter.
err-card-damaged = Kortets data är skadade. Kontakta servicecenter.
err-wrong-pin-fewer = Fel { $pin }, färre än { $max } försök kvar (kortets mellanprogram anger inte exakt hur många).
err-p11-module-missing = Mellanprogrammet för kortet hittades inte. Installera kortets mellanprogram (SafeNet Authentication Client, Net iD eller OpenSC) eller ange var det finns i inställningarna.
err-p11-module-broken = Kortets mellanprogram { $module } går inte att läsa in. Installera om mellanprogrammet eller välj ett annat i inställningarna.
err-p11-no-token = Mellanprogrammet { $module } ser inget kort. Sätt i ditt SITHS-kort och kontrollera att kortläsaren är ansluten.
err-p11-token-not-found = Mellanprogrammet ser inget kort som heter { $wanted } (det ser: { $seen }). Sätt i det kortet eller välj ett av dem.
err-p11-several-cards = Datorn ser flera SITHS-kort. Välj vilket kort som ska användas.
err-p11-not-siths = Datorn ser inget SITHS-kort, bara andra kort, som lämnas orörda. Sätt i ditt SITHS-kort.
err-p11-empty-name = Kortets namn är tomt och skulle passa alla kort. Ange kortets namn eller kortnummer i inställningarna.
err-p11-not-supported = Det här mellanprogrammet klarar inte allt som behövs på kortet. Använd kortets eget mellanprogram (SafeNet Authentication Client i Ineras SITHS eID-app) eller kontakta servicecenter.
err-p11-pin-not-shown = Kortets programvara (mellanprogrammet) visar inte underskriftskoden, så den kan inte kontrolleras, bytas eller låsas upp här. Använd kortets eget mellanprogram (SafeNet Authentication Client i Ineras app SITHS eID) för underskriftskoden.
err-p11-puk-not-shown = Kortets programvara (mellanprogrammet) visar inte PUK-koden, så ingen kod kan låsas upp med den här. Använd kortets eget mellanprogram (SafeNet Authentication Client i Ineras app SITHS eID) eller kontakta ditt servicecenter.
err-p11-pin2-in-middleware = Det här mellanprogrammet kontrollerar underskriftskoden (PIN2) först när du skriver under och byter eller låser upp den bara i sitt eget program. Använd mellanprogrammets verktyg för PIN2.
err-p11-failed = Kortets mellanprogram vägrade. Ta ut kortet, sätt i det igen och försök igen. Kontakta servicecenter om det händer igen.
err-ca-took-another = Certifikatutfärdaren tog kortet för { $ca }, men kortets inloggningscertifikat gäller { $card }. Inget har ändrats. Kontakta servicecenter.
err-customer-not-trusted = Kundens kort har inget certifikat som den här certifikatutfärdaren står bakom. Ingen PUK-kod hämtades. Kontrollera att det är kundens eget kort och kontakta servicecenter.
err-card-refused = Kortet svarade inte som väntat. Ta ut kortet, sätt i det igen och försök igen. Kontakta servicecenter om det händer igen.
err-ca-unreachable = Certifikatutfärdaren på { $url } går inte att nå. Kontrollera nätverket och adressen och försök igen. Inget på kortet har ändrats.
err-ca-not-trusted = Certifikatutfärdarens servercertifikat godtas inte. Kontrollera rotcertifikatet och adressen i inställningarna. Inget på kortet har ändrats.
err-ca-refused-card = Certifikatutfärdaren godtog inte kortets inloggningscertifikat. Kontakta servicecenter. Inget på kortet har ändrats.
err-ca-tls = Den säkra förbindelsen till certifikatutfärdaren misslyckades. Kontrollera adressen och försök igen. Inget på kortet har ändrats.
err-ca-pin-not-verified = Kortet skriver inte under inloggningen utan PIN1. Ange PIN1 och försök igen.
err-ca-malformed = Certifikatutfärdarens svar gick inte att förstå. Kontrollera att adressen i inställningarna är rätt och försök igen. Inget på kortet har ändrats.
err-ca-config = Förbindelsen till certifikatutfärdaren kan inte ställas in. Kontrollera inställningarna.
err-csr = Certifikatbegäran kunde inte byggas. Inget på kortet har ändrats. Försök igen.
err-ca-not-set = Certifikatutfärdarens adress eller rotcertifikat saknas. Ange dem i inställningarna.
err-file = Filen { $path } gick inte att använda. Välj en annan plats och försök igen.
err-refusal-not-allowed = Certifikatutfärdaren tillåter inte uppgradering av ditt kort. Kontakta servicecenter.
err-refusal-deadline = Sista dagen för uppgradering har passerat. Kontakta servicecenter för ett nytt kort.
err-refusal-profile = Med ett samordningsnummer går det inte att få certifikat för personnummer. Kontakta servicecenter.
err-refusal-unknown-person = Certifikatutfärdaren känner inte igen dig. Kontakta servicecenter.
err-refusal-other = Certifikatutfärdaren nekade. Försök igen senare, och kontakta servicecenter om det händer igen.
err-refusal-renewal-not-due = Certifikaten kan förnyas först under sina sista 30 dagar. Förnya när påminnelsen kommer.
err-refusal-already-enrolled = Du har redan ett giltigt certifikat av det här slaget för en annan nyckel. Hämta det befintliga, eller kontakta servicecenter.
err-refusal-level-too-low = Kortets inloggning har tillitsnivå 2 och räcker inte till detta. Kontakta servicecenter för en identitetskontroll.
err-refusal-login-replaced = Certifikatet du loggade in med har redan ersatts av ett förnyat. Försök igen, så används det nya.
err-refusal-customer-card = Kundens kort måste sitta i kundens läsare för att PUK-koden ska kunna hämtas. Sätt i kortet och hämta igen.
err-refusal-challenge = Hämtningen tog för lång tid eller gjordes redan. Hämta PUK-koden igen.
err-cert-check = Certifikatet ”{ $cert }” godtogs inte, och inget skrevs till kortet. Försök igen, och kontakta servicecenter om det händer igen.
err-profile-missing = Certifikatutfärdaren erbjuder dig inte certifikatet ”{ $cert }”, så kortet kan inte få alla nya certifikat. Kontakta servicecenter.
err-no-login-cert = Kortet har inget legitimeringscertifikat att logga in hos certifikatutfärdaren med. Kontakta servicecenter.
err-not-upgraded = Kortet är inte uppgraderat än, så det finns inget att förnya. Uppgradera kortet först.
err-job-cancelled = Avbrutet. Det som redan är gjort ligger kvar på kortet, och du kan fortsätta när du vill.
err-login-expired = Legitimeringscertifikatet för det här paret har gått ut, så det kan inte förnyas. Beställ ett nytt kort från servicecenter.
err-slot-in-use = Kortet har redan ett certifikat på en plats som uppgraderingen behöver, och det hör inte till uppgraderingen. Kontakta servicecenter.
err-untrusted-cert = Certifikatet på plats { $slot } på kortet ser ut som ett SITHS-certifikat men klarar inte kontrollen. Det lämnades orört, och inget annat togs bort på grund av det. Kontakta servicecenter.
err-not-writable = Certifikatet { $detail }. Välj bland dem som kan skrivas till kortet, eller kontakta servicecenter.
err-proof-failed = En ny nyckel på kortet gav ingen giltig underskrift (”{ $cert }”). Ta ut kortet, sätt i det igen och fortsätt uppgraderingen.

## Servicedisken
nav-desk = Servicedisk
task-puk-lookup = Hämtar PUK-koden från certifikatutfärdaren …
desk-title = Servicedisk
desk-operator-card = Ditt kort (handläggare)
desk-insert-operator-card = Sätt i ditt eget SITHS-kort i den andra läsaren.
desk-customer-card = Kundens kort
desk-need-second-reader = Det behövs en andra kortläsare: en för ditt eget kort och en för kundens. Anslut en läsare till och sätt i kundens kort i den.
desk-insert-customer-card = Be kunden sätta i sitt kort.
desk-card-serial = Kortnummer { $serial }
desk-tries = Försök kvar: PIN1 { $pin1 }, PIN2 { $pin2 }, PUK-kod { $puk }
desk-upgrade-possible = Uppgradering: möjlig
desk-upgrade-not-needed = Uppgradering: behövs inte
desk-verdict-dead = PUK-koden är spärrad: beställ ett nytt kort.
desk-verdict-blocked = { $pin } är spärrad: lås upp med PUK-koden.
desk-verdict-expiring = Certifikatet { $when }: uppgradera eller vänta på det nya kortet.
desk-verdict-upgrade = Kortet har det gamla paret: uppgradera det.
desk-verdict-renew = Certifikaten { $when }: förnya dem nu.
desk-verdict-ok = Kortet är i ordning.
desk-identity-title = Kontrollera kundens identitet
desk-identity-explain = Innan du hjälper till med något som ändrar kortet: se kundens id-handling, anteckna de fyra sista tecknen i dess nummer och jämför fotot.
desk-id-document = Id-handling
desk-id-choose = Välj …
desk-id-last-four = Fyra sista tecknen
desk-id-photo = Fotot stämmer med personen
desk-identity-confirm = Bekräfta identiteten
desk-identity-done = Identiteten är kontrollerad ({ $doc }, …{ $last }).
id-doc-passport = Pass
id-doc-national = Nationellt id-kort
id-doc-driving = Körkort
id-doc-employee = Tjänstekort
desk-help-title = Hjälp med kortet
desk-check-first = Kontrollera identiteten först. Inget låses upp eller hämtas innan dess.
desk-check-first-here = Kontrollera kundens identitet först, på fliken Servicedisk. Inget på kundens kort ändras innan dess.
desk-puk-explain = PUK-koden hämtas från certifikatutfärdaren med ditt kort. Skriv varför – certifikatutfärdaren loggar vem som frågade, för vem och varför.
desk-reason = Anledning
desk-operator-pin = Din PIN1 (handläggarens)
desk-fetch-puk = Hämta kundens PUK-kod
desk-puk-fetched = PUK-kod: { $puk }
desk-puk-reveal = Visa PUK-koden
desk-puk-customer-types = PUK-koden sparas inte. Kunden skriver själv in sin nya PIN-kod.
desk-audit-status = Loggen: { $path } ({ $n } poster)
desk-audit-broken = Loggen kan inte användas ({ $detail }). Ingen hjälp som ändrar kort förrän den fungerar – kontakta IT-avdelningen.

## Servicediskens steg
desk-step = { $n }. { $title }
desk-puk-title = Kundens PUK-kod
desk-reason-forgot-pin1 = Glömt PIN1
desk-reason-forgot-pin2 = Glömt PIN2
desk-reason-blocked = Spärrad kod
desk-audit-entries = Granskningsloggen: { $n ->
    [one] { $n } post
   *[other] { $n } poster
}

## Uppgraderingens delmål och nästa steg
milestone-hsa = Nytt HSA-id-par
milestone-pnr = Nytt personnummerpar
milestone-remove-legacy = Tar bort det gamla certifikatparet
show-details = Visa detaljer
upgrade-next-login = Nästa steg: prova att logga in. När inloggningen frågar efter certifikat väljer du HSA-id, legitimering.
action-try-login = Prova inloggningen
