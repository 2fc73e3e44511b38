import { type ReactNode, useEffect, useRef } from "react";

/**
 * A screen: sets the document title and moves focus to the heading when the screen opens, so a
 * screen reader announces where the patient is after each navigation.
 */
export function Page({
  title,
  lead,
  children,
  narrow = false,
}: {
  title: string;
  lead?: ReactNode;
  children?: ReactNode;
  narrow?: boolean;
}) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} — MedRec`;
    heading.current?.focus();
  }, [title]);
  return (
    <section className={narrow ? "page page-narrow" : "page"} aria-labelledby="page-title">
      <h1 id="page-title" ref={heading} tabIndex={-1}>
        {title}
      </h1>
      {lead ? <p className="lead">{lead}</p> : null}
      {children}
    </section>
  );
}

export function Card({ children, title }: { children: ReactNode; title?: string }) {
  return (
    <div className="card">
      {title ? <h2 className="card-title">{title}</h2> : null}
      {children}
    </div>
  );
}
