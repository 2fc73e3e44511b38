import { QrCode } from "../../../components/qr-code.tsx";
import { frontDeskCode } from "../../../lib/front-desk.ts";

/** What a front desk needs to link the patient: a QR code of the address, and a form to read aloud. */
export function AddressCard({ address }: { address: string }) {
  const code = frontDeskCode(address);
  return (
    <div className="address-card">
      <QrCode
        value={`ethereum:${code.address}`}
        label="QR code of your MedRec ID for the front desk to scan"
      />
      <div className="stack">
        <p>
          At a hospital or clinic, show this code at the front desk. They scan it (or type the groups below)
          to link your records to you, then read the check word back to you.
        </p>
        <p className="id-groups">
          <span className="visually-hidden">Your MedRec ID: </span>
          {code.groups.map((group, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: groups are positional
            <span key={i} className="id-group">
              {group}
            </span>
          ))}
        </p>
        <p>
          Check word: <strong className="check-word">{code.checkWord}</strong>
        </p>
      </div>
    </div>
  );
}
