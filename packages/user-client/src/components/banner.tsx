import type { ReactNode } from "react";

/** A page-wide notice. `alert` tone is announced to screen readers as it appears. */
export function Banner({
  tone = "info",
  title,
  children,
  action,
}: {
  tone?: "info" | "warning" | "alert" | "success";
  title: ReactNode;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <div className={`banner banner-${tone}`} role={tone === "alert" ? "alert" : "status"}>
      <div className="banner-text">
        <strong>{title}</strong>
        {children ? <span> {children}</span> : null}
      </div>
      {action ? <div className="banner-action">{action}</div> : null}
    </div>
  );
}
