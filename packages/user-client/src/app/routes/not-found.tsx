import { Link } from "react-router";
import { Page } from "../../components/page.tsx";

export default function NotFound() {
  return (
    <main id="main" className="main">
      <Page title="Page not found" lead="This address does not lead anywhere in MedRec." narrow>
        <Link className="btn btn-primary" to="/">
          Go to my records
        </Link>
      </Page>
    </main>
  );
}
