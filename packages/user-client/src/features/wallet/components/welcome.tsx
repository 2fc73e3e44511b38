import { Link } from "react-router";
import { Page } from "../../../components/page.tsx";

export function Welcome() {
  return (
    <Page
      title="Your health records, in your hands"
      lead="MedRec gathers your records from every hospital and clinic that joins, and lets you decide who else may see them."
      narrow
    >
      <ul className="benefits">
        <li>Your records stay with your providers — MedRec checks they have not been altered.</li>
        <li>Share with family or a doctor, and take it back at any time.</li>
        <li>See every time someone opened your records.</li>
      </ul>
      <div className="stack">
        <Link className="btn btn-primary" to="/create">
          Create a new wallet
        </Link>
        <Link className="btn btn-secondary" to="/restore">
          I already have 12 recovery words
        </Link>
      </div>
    </Page>
  );
}
