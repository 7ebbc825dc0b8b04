package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"medwallet/app/peer"
	"medwallet/wallet"
	"medwallet/wallet/backup"
	"medwallet/wallet/checkin"
	"medwallet/wallet/export"
	"medwallet/wallet/fhir"
	"medwallet/wallet/keys"
	"medwallet/wallet/kv"
	"medwallet/wallet/ledger"
	"medwallet/wallet/share"
	"medwallet/wallet/shc"
)

// Advice is what a person reads about an error a caller can switch on: what
// happened, in a patient's words, and what to do next. The window and the
// command line read the same table; Command words the remedy for the command
// line only where the way to do it differs (a flag there, a button here).
type Advice struct {
	Err     error  `json:"-"`
	What    string `json:"what"`
	Do      string `json:"do"`
	Command string `json:"command,omitempty"`
}

// ForWindow is the advice as the window shows it: what happened, then what
// to do.
func (a Advice) ForWindow() string { return a.What + " " + a.Do }

// ForCommandLine is what to do, as the command line says it after the
// error's own text (which already says what failed).
func (a Advice) ForCommandLine() string { return cmp.Or(a.Command, a.Do) }

// ForkAdvice is what the fork alarm tells the patient to do. The window
// shows it in its banner; `medwallet anchor` prints it when a witness
// reports a fork.
const ForkAdvice = "Either this wallet was restored from an older backup and then changed, or someone else has your wallet's keys and writes to a copy of it. " +
	"What to do: create no new shares until this is cleared up. If you did not restore a backup, change your passphrase, keep your recovery key offline, " +
	"and give the evidence to the clinic that runs the witness. Your records on this computer are unchanged."

// recoveryKeyShape says how a recovery key is written, as keys.RecoveryKey's
// String writes it (a test holds the two together).
const recoveryKeyShape = "14 groups of 4 letters and digits joined by dashes"

// restoreCommand is how the command line restores a wallet from a backup.
const restoreCommand = "'medwallet restore FILE.age --wallet NEW-DIR'"

// adviceTable holds, for each sentinel error that reaches a person, what
// happened and what to do. The first match wins, so an error that wraps
// another comes before it.
var adviceTable = []Advice{
	{Err: keys.ErrWrongPassphrase,
		What:    "That passphrase does not open this wallet.",
		Do:      "Check Caps Lock and the keyboard layout, then try again, or unlock with the recovery key.",
		Command: "Check it and try again, or unlock with --recovery-key."},
	{Err: keys.ErrWrongRecoveryKey,
		What: "This recovery key belongs to another wallet.",
		Do:   "Use the key that was shown when this wallet was created."},
	{Err: keys.ErrBadRecoveryKey,
		What: "The recovery key looks mistyped.",
		Do:   "It has " + recoveryKeyShape + "; check each group and try again."},
	{Err: wallet.ErrInUse,
		What:    "The wallet is open in another Medwallet window or program.",
		Do:      "Close it there first; command-line tools reach it automatically while it runs.",
		Command: "Close it there first, or run this command again: while it runs, commands are handed to it."},
	{Err: wallet.ErrExists,
		What:    "A wallet already exists in this folder.",
		Do:      "Unlock it instead, or choose another folder.",
		Command: "Use it as it is, or choose another directory with --wallet."},
	{Err: wallet.ErrNotFound,
		What:    "That record no longer exists; it may have been deleted from another window or the command line.",
		Do:      "Pick it again from the list.",
		Command: "'medwallet list' shows the records there are."},
	{Err: wallet.ErrLocked,
		What: "The wallet locked itself while this was running.",
		Do:   "Unlock it and try again."},
	{Err: ErrSessionLocked,
		What: "The wallet locked itself while this was running.",
		Do:   "Unlock it and try again."},
	{Err: keys.ErrNoWallet,
		What:    "There is no wallet in this folder yet.",
		Do:      "Create one, or restore it from a backup.",
		Command: "Create one with 'medwallet init', restore one with " + restoreCommand + ", or point --wallet or MEDWALLET_HOME at an existing wallet."},
	{Err: keys.ErrWeakPassphrase,
		What: "The new passphrase is too easy to guess.",
		Do:   "Use four or more unrelated words, or 12 or more mixed characters."},
	{Err: wallet.ErrStaleHeader,
		What:    "This wallet.json does not open the store beside it: it is an old copy from before the master key was replaced, or it belongs to another wallet.",
		Do:      "Put back the wallet's current wallet.json, or restore the wallet from a backup.",
		Command: "Put back the wallet's current wallet.json, or restore the wallet from a backup (" + restoreCommand + ")."},
	{Err: wallet.ErrRotationUnfinished,
		What: "The new master key is in place, but not every file of the wallet was switched over to it.",
		Do:   "Open the wallet again to finish; keep the new recovery key that was shown."},
	{Err: wallet.ErrRolledBack,
		What:    "The wallet's records are older than the state this wallet last recorded: an older copy of its files was put back, or the disk lost writes.",
		Do:      "Restore the newest backup; if you put the older copy back on purpose, accept it as the current state.",
		Command: "Restore the newest backup (" + restoreCommand + "); if you put the older copy back on purpose, open it with --accept-older-store."},
	{Err: wallet.ErrForgedOrigin,
		What: "FORGERY ALARM: the records claim to come from a patient's log that belongs to another key, so they were not stored.",
		Do:   "Do not rely on this share. Tell the patient, and ask them for a new link made on their own device."},
	{Err: wallet.ErrUnknownContact,
		What:    "That peer is not in the address book.",
		Do:      "Add it with its full address first.",
		Command: "Give its full address (a multiaddr ending in /p2p/<id>)."},
	{Err: checkin.ErrNotACheckin,
		What: "This is not a readable check-in from Medwallet.",
		Do:   "Scan the patient's check-in QR code again, or ask them to make a new one."},
	{Err: checkin.ErrInvalidCard,
		What: "The insurance card's details are not valid.",
		Do:   "Check the field named below: the insurer's name and member ID are needed, in plain text."},
	{Err: checkin.ErrNoPatient,
		What: "A check-in needs the patient's own record (Patient), and the selection has none.",
		Do:   "Import or add the patient's own record first, then check in again."},
	{Err: checkin.ErrSecondPatient,
		What: "Some of the chosen records belong to another person, so they are not sent as this person's.",
		Do:   "Leave them out, or, if they are the same person under another record, add that record as one of theirs."},
	{Err: checkin.ErrBadEntry,
		What: "One of the chosen records cannot be sent in a check-in.",
		Do:   "Leave out the record named below, or import it again from the portal."},
	{Err: checkin.ErrTooLarge,
		What: "The check-in is larger than one check-in carries.",
		Do:   "Choose fewer records or a shorter note."},
	{Err: keys.ErrNewerFormat,
		What: "This wallet was written by a newer version of Medwallet.",
		Do:   "Install the latest version to open it."},
	{Err: keys.ErrCorruptHeader,
		What:    "The wallet's key file (wallet.json) is damaged.",
		Do:      "Restore the wallet from a backup.",
		Command: "Restore the wallet from a backup (" + restoreCommand + "), or put back a copy of wallet.json you kept."},
	{Err: wallet.ErrAttachmentTampered,
		What:    "The attached file was changed or damaged on disk, so it was not opened.",
		Do:      "Restore the wallet from a backup to get it back.",
		Command: "Restore the wallet from a backup to get it back (" + restoreCommand + ")."},
	{Err: keys.ErrTampered,
		What:    "Stored data failed its integrity check: it was changed or damaged on disk.",
		Do:      "Restore the wallet from a backup.",
		Command: "Restore the wallet from a backup (" + restoreCommand + ")."},
	{Err: kv.ErrTampered,
		What:    "Stored data failed its integrity check: the wallet's files were changed outside Medwallet.",
		Do:      "Restore the wallet from a backup.",
		Command: "Restore the wallet from a backup (" + restoreCommand + ")."},
	{Err: kv.ErrInUse,
		What: "The wallet's store is open in another program.",
		Do:   "Close the other Medwallet window or command first, then try again."},
	{Err: kv.ErrNotFound,
		What:    "Something the wallet expected to find is not stored.",
		Do:      "If it was just deleted elsewhere, try again; if it keeps happening, run the integrity check and restore from a backup.",
		Command: "If it was just deleted elsewhere, try again; if it keeps happening, run 'medwallet verify' and restore from a backup."},
	{Err: fhir.ErrTooLarge,
		What: "The file is larger than Medwallet imports at once (512 MB).",
		Do:   "Ask the sender for a smaller export, or split it into several files."},
	{Err: fhir.ErrNotFHIR,
		What: "This file does not hold FHIR health records.",
		Do:   "Medwallet imports FHIR JSON bundles, single resources and NDJSON files, SMART Health Cards, and PDF, PNG, JPEG and DICOM documents."},
	{Err: fhir.ErrBadDate,
		What:    "A date is not written as FHIR writes dates.",
		Do:      "Give it as year-month-day, for example 2024-03-15.",
		Command: "Give it as YYYY-MM-DD, for example 2024-03-15."},
	{Err: fhir.ErrUnknownKind,
		What:    "That is not a kind of record Medwallet knows.",
		Do:      "Choose one of the kinds offered.",
		Command: "Use one of the kinds 'medwallet list --help' names."},
	{Err: fhir.ErrInvalidDraft,
		What:    "Some fields of the form are missing or not valid.",
		Do:      "Check the field named below and try again.",
		Command: "Check the field named above and try again."},
	{Err: fhir.ErrNotEditable,
		What: "This kind of record cannot be edited with a form.",
		Do:   "It stays as it was imported."},
	{Err: export.ErrUnsupportedType,
		What: "Medwallet keeps documents as PDF, PNG, JPEG or DICOM files, and this file is none of them.",
		Do:   "Save or print it as a PDF, or take a picture of it, and add that instead."},
	{Err: ledger.ErrFork,
		What:    "FORK ALARM: a witness has cosigned a different version of your wallet's log than the one on this computer.",
		Do:      ForkAdvice + " The alarm at the top of the window shows the evidence.",
		Command: ForkAdvice + " 'medwallet anchor --evidence' prints both checkpoints to hand over."},
	{Err: ledger.ErrNoQuorum,
		What:    "Too few witnesses cosigned the log this time.",
		Do:      "The checkpoint is kept; anchor again when the witnesses are reachable, or lower the number required.",
		Command: "The checkpoint is kept; anchor again when the witnesses are reachable, or lower the number required with 'medwallet anchor --quorum K'."},
	{Err: ledger.ErrNotEnrolled,
		What: "The witness does not follow your wallet's log yet: its clinic must approve the enrolment first.",
		Do:   "Try again later, or ask the clinic to approve it."},
	{Err: ledger.ErrRefused,
		What: "The witness refused the checkpoint.",
		Do:   "Ask the clinic that runs it whether your wallet is still enrolled."},
	{Err: ledger.ErrLogNotAdded,
		What:    "The witness's operator has not added your wallet's log yet.",
		Do:      "Give them the origin and verification key shown under “For a witness operator” on the Witnesses screen (Copy puts both on the clipboard), then anchor again.",
		Command: "Give them the origin and verification key that 'medwallet log' prints, then anchor again."},
	{Err: ledger.ErrNoEnrollment,
		What:    "This is a standard C2SP witness: it does not enrol wallets itself.",
		Do:      "Ask its operator for its verification key, give them your log's origin and key (shown under “For a witness operator”), then add the witness again with its key in “Verification key (for a standard witness)”.",
		Command: "Ask its operator for its verification key and give them your log's origin and key ('medwallet log' prints them); then add it with 'medwallet anchor --witness URL --witness-key KEY'."},
	{Err: ledger.ErrNotAnchored,
		What:    "No signed checkpoint of the log covers this record yet.",
		Do:      "It is covered after the next share or anchoring; anchor now on the witnesses screen.",
		Command: "It is covered after the next share or anchoring; run 'medwallet anchor'."},
	{Err: ledger.ErrBeyondLog,
		What:    "The wallet's log is shorter than its records say: the log is damaged.",
		Do:      "Restore the wallet from a backup, and keep this copy as evidence.",
		Command: "Restore the wallet from a backup (" + restoreCommand + "), and keep this copy as evidence."},
	{Err: ledger.ErrCorrupt,
		What:    "The wallet's log is damaged.",
		Do:      "Restore the wallet from a backup, and keep this copy as evidence.",
		Command: "Restore the wallet from a backup (" + restoreCommand + "), and keep this copy as evidence."},
	{Err: ledger.ErrMalformed,
		What: "A checkpoint or proof is not written as the transparency-log format requires.",
		Do:   "Ask whoever sent it for a fresh copy; a changed or cut-off copy does not verify."},
	{Err: wallet.ErrNoSuchWitness,
		What:    "No witness of that name is configured.",
		Do:      "Pick it from the witnesses list.",
		Command: "'medwallet anchor' prints the names of the configured witnesses."},
	{Err: peer.ErrUnreachable,
		What: "That peer could not be reached.",
		Do:   "Check that it is running and that this computer is on the network, then try again."},
	{Err: peer.ErrWrongPeer,
		What: "A different peer answered at that address.",
		Do:   "Check the address with the clinic; it may have changed."},
	{Err: peer.ErrNoHTTP,
		What: "The peer answered but does not speak Medwallet's protocol.",
		Do:   "Check the address; if it is right, the peer runs an incompatible version and must be updated."},
	{Err: peer.ErrUnknownPeer,
		What:    "That peer is not in the address book.",
		Do:      "Add it with its full address first.",
		Command: "Give its full address (a multiaddr ending in /p2p/<id>)."},
	{Err: peer.ErrClosed,
		What: "The wallet's peer has stopped, because the wallet locked or the program is closing.",
		Do:   "Unlock the wallet and try again."},
	{Err: ErrNoPeer,
		What:    "A peer-to-peer share needs the wallet's peer running.",
		Do:      "Unlock the wallet again to start it, or host the share on a clinic node.",
		Command: "Run 'medwallet serve' (or open the desktop app) on this wallet, or share with --host to leave a copy on a clinic node."},
	{Err: ErrNotOwned,
		What: "No Medwallet process has this wallet open.",
		Do:   "The command opens the wallet itself; give the passphrase."},
	{Err: backup.ErrWrongKey,
		What:    "That recovery key or passphrase does not open this backup.",
		Do:      "Check it, or choose the other way in if a backup passphrase was set when it was made.",
		Command: "Check it, or give --backup-passphrase-file if a backup passphrase was set when it was made."},
	{Err: backup.ErrNotBackup,
		What: "This file is not a Medwallet backup.",
		Do:   "Choose the .age file that Medwallet wrote."},
	{Err: backup.ErrTruncated,
		What: "The backup file is incomplete: it was cut short while being copied.",
		Do:   "Copy it again from where it is kept, or use another backup."},
	{Err: backup.ErrDamaged,
		What: "The backup file was altered or is corrupted.",
		Do:   "Use another copy or another backup."},
	{Err: backup.ErrNewerFormat,
		What: "The backup was written by a newer version of Medwallet.",
		Do:   "Install the latest version to restore it."},
	{Err: backup.ErrTargetExists,
		What:    "The folder for the restored wallet is not empty.",
		Do:      "Choose a new, empty folder.",
		Command: "Name a new, empty directory with --wallet."},
	{Err: export.ErrNoRecords,
		What:    "No records match the selection, so nothing was exported.",
		Do:      "Choose other kinds, dates or filters.",
		Command: "Choose other --kind, --from, --to or --ids."},
	{Err: export.ErrNoPatient,
		What: "An International Patient Summary needs the patient's own record (Patient), and the selection has none.",
		Do:   "Include it, or choose another format."},
	{Err: export.ErrMixedTypes,
		What:    "One NDJSON file holds one resource type, and the selection has several.",
		Do:      "Choose one resource type for the file, or export to a folder: one NDJSON file per type.",
		Command: "Name the type with --type, or export to a directory (-o DIR/) for one file per type."},
	{Err: export.ErrSeveralPeople,
		What: "An International Patient Summary is about one person, and the selection holds the records of more than one.",
		Do:   "Choose the records of one person, or choose another format."},
	{Err: ErrAttachmentsTooLarge,
		What:    "The attached files are too large to carry inside one file.",
		Do:      "Untick “Include attached files”, select fewer records, or make a backup instead.",
		Command: "Export with --no-attachments, select fewer records, or make a backup instead."},
	{Err: ErrNothingToShare,
		What:    "Nothing would be shared: no records match the choice.",
		Do:      "Choose records, kinds or dates that match some records.",
		Command: "Name records with --ids, or choose --kind, --from or --to that match some."},
	{Err: ErrHostedShareNeedsExpiry,
		What:    "A share hosted on a clinic node needs an expiry: the node hosts nothing without one.",
		Do:      "Choose how long the link works in the share form; the node's operator sets the longest it accepts.",
		Command: "Give --expires (for example 30d); the node's operator sets the longest it accepts."},
	{Err: ErrCheckInPasscode,
		What:    "A check-in link cannot have a passcode: the clinic's record system opens only links without one.",
		Do:      "Leave the passcode empty; the link works only for the minutes you choose, and you can revoke it.",
		Command: "Drop --passcode-file; the link works only until --expires, and 'medwallet share revoke' ends it sooner."},
	{Err: ErrCheckInExpiry,
		What:    "A check-in link works for at most 48 hours.",
		Do:      "Choose a shorter time: minutes for a code shown on screen, up to 48 hours for a printed one.",
		Command: "Give --expires of 48h or less (15m when you show the code on screen)."},
	{Err: ErrCheckInNeedsHost,
		What:    "The clinic's record system fetches a check-in link over HTTPS, so a clinic node must host it.",
		Do:      "Choose the clinic node that hosts your shares.",
		Command: "Name the clinic node with --host (its multiaddr ending in /p2p/<id>, or its https URL)."},
	{Err: ErrCheckInNeedsHTTPS,
		What: "That clinic node serves no HTTPS, and the clinic's record system can only fetch a check-in link over HTTPS.",
		Do:   "Host the check-in on a clinic node that serves HTTPS, or ask the node's operator to start it with --https."},
	{Err: ErrNoPatientRecord,
		What:    "A check-in carries the person's Patient record (name, birth date, sex), and the wallet holds none for them.",
		Do:      "Import a file from your clinic or patient portal that holds your demographics, or choose the person by the name their records give.",
		Command: "Import a file that holds a Patient resource, or give --person the name 'medwallet list --kind patient' shows."},
	{Err: ErrNoInsuranceCard,
		What:    "There is no insurance card for this person in the wallet.",
		Do:      "Enter the card once in Insurance, or import a file that holds it; or check in without it.",
		Command: "Enter it once with 'medwallet insurance set --payer NAME --member-id ID', or drop --insurance."},
	{Err: ErrShareTooLarge,
		What: "The selection is too large to share in one link.",
		Do:   "Share fewer records or fewer attached files, or share them in several links."},
	{Err: ErrNoSuchShare,
		What:    "This wallet has no share with that ID.",
		Do:      "Pick it from the list of shares.",
		Command: "'medwallet share list' shows the shares."},
	{Err: ErrNotReceived,
		What: "The record did not come from a received share, so it has no verdict of one.",
		Do:   "Its status is checked against this wallet's own log instead."},
	{Err: ErrNotABundle,
		What: "This file does not hold shared records (a FHIR Bundle or resource).",
		Do:   "Choose the FHIR JSON file that was received or saved from a share."},
	{Err: share.ErrNotALink,
		What: "This is not a share link.",
		Do:   "Copy the whole link (it starts with shlink:/ or medwallet:/) or scan its QR code."},
	{Err: share.ErrInvalidLink,
		What: "The link is damaged: part of it is missing or changed.",
		Do:   "Copy the whole link again, or scan its QR code."},
	{Err: share.ErrLinkTooLong,
		What: "The text is far longer than any share link.",
		Do:   "Copy only the link."},
	{Err: share.ErrUnsupportedVersion,
		What: "The link was made by a newer version of SMART Health Links.",
		Do:   "Install the latest Medwallet to open it."},
	{Err: share.ErrNotFound,
		What: "The share no longer exists: it expired, was revoked or never existed.",
		Do:   "Ask the patient for a new link."},
	{Err: share.ErrExpired,
		What: "The share has expired.",
		Do:   "Ask the patient for a new link."},
	{Err: share.ErrRevoked,
		What: "The patient revoked this share.",
		Do:   "Ask the patient for a new link if it is still needed."},
	{Err: share.ErrLocked,
		What: "The share is disabled after too many wrong passcodes.",
		Do:   "Ask the patient for a new link."},
	{Err: share.ErrPasscodeRequired,
		What:    "This share is protected by a passcode.",
		Do:      "Ask the patient for it and type it in.",
		Command: "Ask the patient for it and give it with --passcode-file."},
	{Err: share.ErrDecrypt,
		What: "A shared file did not decrypt: the link's key is wrong or the file was altered.",
		Do:   "Copy the whole link again; if it still fails, ask the patient for a new link."},
	{Err: share.ErrMalformedJWE,
		What: "The server sent a shared file that is not a valid encrypted file.",
		Do:   "Try again later; if it keeps failing, ask the patient for a new link."},
	{Err: share.ErrTooLarge,
		What: "The share is larger than Medwallet accepts.",
		Do:   "Ask the patient to share fewer records or fewer attached files."},
	{Err: share.ErrMalformedManifest,
		What: "The share's server answered with something that is not a valid list of files.",
		Do:   "Try again later; if it keeps failing, ask the patient for a new link."},
	{Err: share.ErrUnknownContent,
		What: "The share holds a file of a kind Medwallet does not read.",
		Do:   "Ask the patient to share FHIR records or health cards."},
	{Err: share.ErrRateLimited,
		What: "The share's server asks to slow down.",
		Do:   "Wait a minute and try again."},
	{Err: share.ErrUnauthorized,
		What: "The clinic node refused to host or change this share.",
		Do:   "Check that this wallet is enrolled with that node, or share without it."},
	{Err: share.ErrTimedOut,
		What:    "The share's server did not answer in time.",
		Do:      "Check this computer's network and try again, or ask the sender whether the share is still online.",
		Command: "Check this computer's network and try again (a longer --timeout waits more), or ask the sender whether the share is still online."},
	{Err: share.ErrPrivateAddress,
		What:    "The link points at a server on this computer or your local network, which links may not do unless you allow it.",
		Do:      "If you trust it, tick “Open links whose server is on this computer or a private network” in Settings, or add the clinic node as a witness.",
		Command: "If you trust that server, run redeem again with --allow-private-hosts, or add the clinic node as a witness."},
	{Err: share.ErrRefusedDestination,
		What: "The link, or the server it names, tried to send Medwallet somewhere else, so nothing was fetched.",
		Do:   "Ask the sender for a new link."},
	{Err: share.ErrTooManyDownloads,
		What: "Too many downloads of this share are under way at once.",
		Do:   "Wait a minute and try again."},
	{Err: share.ErrNoQRCode,
		What: "No readable QR code was found in the image.",
		Do:   "Try a sharper, larger or better-lit picture, or paste the link as text."},
	{Err: share.ErrTextTooLongForQR,
		What: "The link is too long for a QR code.",
		Do:   "Send the link as text instead, or share fewer records."},
	{Err: shc.ErrBadTrustList,
		What: "The issuer's keys or revocation list cannot be used.",
		Do:   "Get the JWKS file from the issuer's /.well-known/jwks.json and its revocation lists from /.well-known/crl/, and add them again."},
	{Err: shc.ErrMalformed,
		What: "This is not a readable SMART Health Card.",
		Do:   "Scan the card's QR code again, or ask the issuer for the .smart-health-card file."},
	{Err: shc.ErrTooLarge,
		What: "The health card is larger than any card should be.",
		Do:   "Ask the issuer for the .smart-health-card file."},
	{Err: shc.ErrIncompleteChunks,
		What:    "The health card is split over several QR codes and some are missing.",
		Do:      "Scan every QR code of the card.",
		Command: "Import every QR code of the card in one command."},
	{Err: context.Canceled,
		What: "Cancelled.",
		Do:   "Nothing was changed."},
}

// AdviceTable lists the advice for every sentinel error, in the order it is
// matched.
func AdviceTable() []Advice { return append([]Advice(nil), adviceTable...) }

// AdviceFor finds what to tell a person about err: the first entry of the
// table whose error err wraps, or the advice for the error types that carry
// details (a JSON syntax error's position, a wrong passcode's attempts left).
func AdviceFor(err error) (Advice, bool) {
	var syn *fhir.SyntaxError
	if errors.As(err, &syn) {
		return Advice{Err: err,
			What: fmt.Sprintf("The file is not valid JSON: line %d, column %d.", syn.Line, syn.Column),
			Do:   "Export it again from the portal, or open it in a text editor to check that spot."}, true
	}
	var pc *share.ErrPasscode
	if errors.As(err, &pc) {
		a := Advice{Err: err, What: "Wrong passcode: the share is now disabled.", Do: "Ask the patient for a new link."}
		if pc.Remaining > 0 {
			a.What = fmt.Sprintf("Wrong passcode: %d more wrong tries disable the share.", pc.Remaining)
			a.Do = "Ask the patient for the passcode and type it exactly."
		}
		return a, true
	}
	for _, a := range adviceTable {
		if errors.Is(err, a.Err) {
			return a, true
		}
	}
	return Advice{}, false
}
