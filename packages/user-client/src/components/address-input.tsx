/**
 * Choosing a person by their MedRec ID: a saved contact by name, the ID pasted or typed (spaces,
 * an `ethereum:` prefix and the front desk's groups of four are accepted; a mixed-case ID must
 * match its checksum), or a QR code read with the camera or from a photo — where the browser has
 * a built-in QR reader (BarcodeDetector: Chrome on Android, ChromeOS and macOS, Safari). No
 * decoder library is bundled; elsewhere the option is not offered and the ID is pasted instead.
 */
import { useEffect, useId, useRef, useState } from "react";
import { type Address, getAddress } from "viem";
import type { Contact } from "../lib/contacts.ts";
import { frontDeskCode } from "../lib/front-desk.ts";
import { Button } from "./button.tsx";
import "./address-input.css";

export type ParsedAddress = { ok: true; address: Address } | { ok: false; error: string };

/** Reads a MedRec ID as a person enters it; says what is wrong in words. */
export function parseAddressInput(raw: string): ParsedAddress | undefined {
  const text = raw
    .trim()
    .replace(/^ethereum:/i, "")
    .replace(/[\s-]/g, "")
    .replace(/@.*$/, "");
  if (text === "") return undefined;
  const hex = text.replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]*$/.test(hex))
    return { ok: false, error: "A MedRec ID has only digits and the letters A to F. Check what was pasted." };
  if (hex.length !== 40)
    return {
      ok: false,
      error: `A MedRec ID has 40 digits and letters after “0x”; this one has ${hex.length}. Check that it was copied whole.`,
    };
  const checksummed = getAddress(`0x${hex.toLowerCase()}`);
  const mixed = hex !== hex.toLowerCase() && hex !== hex.toUpperCase();
  if (mixed && `0x${hex}` !== checksummed)
    return {
      ok: false,
      error:
        "This ID has a typo: its capital letters do not match its checksum. Ask the person to send it again.",
    };
  return { ok: true, address: checksummed };
}

type Detector = { detect(source: ImageBitmapSource): Promise<{ rawValue: string }[]> };
type DetectorConstructor = new (options: { formats: string[] }) => Detector;

function barcodeDetector(): DetectorConstructor | undefined {
  return (globalThis as { BarcodeDetector?: DetectorConstructor }).BarcodeDetector;
}

function CameraScanner({ onResult, onClose }: { onResult: (text: string) => void; onClose: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string>();
  const report = useRef(onResult);
  report.current = onResult;
  useEffect(() => {
    const Detector = barcodeDetector();
    if (!Detector) return;
    const detector = new Detector({ formats: ["qr_code"] });
    let stream: MediaStream | undefined;
    let frame = 0;
    let stopped = false;
    const scan = async () => {
      if (stopped || !video.current) return;
      try {
        const [code] = await detector.detect(video.current);
        if (code?.rawValue) {
          report.current(code.rawValue);
          return;
        }
      } catch {
        // the video is not ready yet: try the next frame
      }
      frame = requestAnimationFrame(scan);
    };
    navigator.mediaDevices
      ?.getUserMedia({ video: { facingMode: "environment" } })
      .then(async (s) => {
        stream = s;
        if (!video.current || stopped) return;
        video.current.srcObject = s;
        await video.current.play();
        frame = requestAnimationFrame(scan);
      })
      .catch(() =>
        setError("The camera could not be opened. Allow it in the browser's settings, or upload a photo."),
      );
    return () => {
      stopped = true;
      cancelAnimationFrame(frame);
      for (const track of stream?.getTracks() ?? []) track.stop();
    };
  }, []);
  return (
    <div className="stack">
      {error ? (
        <p role="alert">{error}</p>
      ) : (
        <video
          ref={video}
          className="scanner-video"
          muted
          playsInline
          aria-label="Camera view for the QR code"
        />
      )}
      <Button variant="secondary" onClick={onClose}>
        Stop the camera
      </Button>
    </div>
  );
}

/**
 * A person's MedRec ID: pick a contact, paste, or scan. Calls `onChange` with the checksummed
 * address when valid, undefined otherwise.
 */
export function AddressInput({
  label,
  hint,
  contacts,
  value,
  onChange,
}: {
  label: string;
  hint?: string;
  contacts: readonly Contact[];
  value: Address | undefined;
  onChange: (address: Address | undefined) => void;
}) {
  const id = useId();
  const [text, setText] = useState("");
  const [scanning, setScanning] = useState(false);
  const [scanError, setScanError] = useState<string>();
  const parsed = parseAddressInput(text);
  const canScan = barcodeDetector() !== undefined;

  const enter = (raw: string) => {
    setText(raw);
    const result = parseAddressInput(raw);
    onChange(result?.ok ? result.address : undefined);
  };

  const fromImage = async (file: File | undefined) => {
    const Detector = barcodeDetector();
    if (!file || !Detector) return;
    setScanError(undefined);
    try {
      const [code] = await new Detector({ formats: ["qr_code"] }).detect(await createImageBitmap(file));
      if (code?.rawValue) enter(code.rawValue);
      else setScanError("No QR code was found in that picture. Try a sharper photo, or paste the ID.");
    } catch {
      setScanError("That picture could not be read. Try another photo, or paste the ID.");
    }
  };

  const selectedContact = contacts.find((c) => c.address === value);
  const fullHint = `${hint ?? "Paste the ID they sent you."}${canScan ? "" : " (This browser cannot scan QR codes.)"}`;
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  return (
    <fieldset className="address-input">
      <legend>{label}</legend>
      {contacts.length > 0 ? (
        <div className="field">
          <label htmlFor={`${id}-contact`}>A saved contact</label>
          <select
            id={`${id}-contact`}
            value={selectedContact?.address ?? ""}
            onChange={(event) => {
              const address = event.target.value as Address | "";
              setText(address);
              onChange(address === "" ? undefined : address);
            }}
          >
            <option value="">— choose —</option>
            {contacts.map((c) => (
              <option key={c.address} value={c.address}>
                {c.name}
              </option>
            ))}
          </select>
        </div>
      ) : null}
      <div className="field">
        <label htmlFor={`${id}-text`}>{contacts.length > 0 ? "Or their MedRec ID" : "Their MedRec ID"}</label>
        <input
          id={`${id}-text`}
          value={text}
          onChange={(event) => enter(event.target.value)}
          autoComplete="off"
          spellCheck={false}
          inputMode="text"
          placeholder="0x…"
          aria-invalid={parsed && !parsed.ok ? true : undefined}
          aria-describedby={
            [hint ? hintId : "", parsed && !parsed.ok ? errorId : ""].filter(Boolean).join(" ") || undefined
          }
        />
        <p className="field-hint" id={hintId}>
          {fullHint}
        </p>
        {parsed && !parsed.ok ? (
          <p className="field-error" id={errorId} role="alert">
            {parsed.error}
          </p>
        ) : null}
        {parsed?.ok ? (
          <p className="field-ok" role="status">
            {selectedContact ? `${selectedContact.name}. ` : "A valid MedRec ID. "}
            Ask them to read you their check word: it should be{" "}
            <strong>{frontDeskCode(parsed.address).checkWord}</strong>.
          </p>
        ) : null}
      </div>
      {canScan ? (
        <div className="actions">
          {scanning ? null : (
            <Button variant="secondary" onClick={() => setScanning(true)}>
              Scan their QR code
            </Button>
          )}
          <label className="btn btn-secondary file-button">
            Read a QR code from a photo
            <input
              type="file"
              accept="image/*"
              className="visually-hidden"
              onChange={(event) => fromImage(event.target.files?.[0])}
            />
          </label>
        </div>
      ) : null}
      {scanError ? <p role="alert">{scanError}</p> : null}
      {scanning ? (
        <CameraScanner
          onResult={(raw) => {
            setScanning(false);
            enter(raw);
          }}
          onClose={() => setScanning(false)}
        />
      ) : null}
    </fieldset>
  );
}
