import * as Dialog from "@radix-ui/react-dialog";
import { type ReactNode, useEffect, useRef, useState } from "react";
import { NavLink, useLocation } from "react-router";

export type NavItem = { readonly to: string; readonly label: string; readonly tab?: boolean };

/** Whether `pathname` is the item's screen or one under it (`/export/summary` is in Take elsewhere). */
function isIn(pathname: string, to: string): boolean {
  return pathname === to || pathname.startsWith(`${to}/`);
}

const ICONS: Record<string, ReactNode> = {
  // A page with lines: the records.
  "/records": (
    <path d="M6 2h9l5 5v13a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2zm8 1.5V8h4.5M8 12h8M8 16h8M8 8h4" />
  ),
  // Two people: who may see them.
  "/sharing": (
    <path d="M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21v-1a6 6 0 0 1 12 0v1M16 3.5a4 4 0 0 1 0 7.5M18 14.5a6 6 0 0 1 4 5.5v1" />
  ),
  // An eye over a list: who looked.
  "/access-log": (
    <path d="M2 9s3.5-6 10-6 10 6 10 6-3.5 6-10 6S2 9 2 9zm10 2.5a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5zM5 19h14M8 22h8" />
  ),
  // A person: the patient's own account.
  "/account": <path d="M12 12a5 5 0 1 0 0-10 5 5 0 0 0 0 10zM3 22a9 9 0 0 1 18 0" />,
};

function TabIcon({ children }: { children: ReactNode }) {
  return (
    <svg
      className="tab-icon"
      viewBox="0 0 24 24"
      width="24"
      height="24"
      aria-hidden="true"
      focusable="false"
      fill="none"
      stroke="currentColor"
      strokeWidth="1.8"
      strokeLinecap="round"
      strokeLinejoin="round"
    >
      {children}
    </svg>
  );
}

/**
 * The main navigation. Wide screens: every item in one row under the header. Narrow screens
 * (phones, or a desktop at 200 % zoom): a tab bar at the bottom with the items marked `tab` and
 * **More**, a Radix dialog (focus kept inside, Escape closes, focus goes back to More) listing the
 * rest. Only one of the two is displayed at a time (CSS), so a screen reader meets one "Main"
 * navigation; the current screen's link has `aria-current="page"` (NavLink).
 */
export function MainNav({ items }: { items: readonly NavItem[] }) {
  const { pathname } = useLocation();
  const tabs = items.filter((item) => item.tab);
  const more = items.filter((item) => !item.tab);
  const current = more.find((item) => isIn(pathname, item.to));
  const [open, setOpen] = useState(false);
  // A link chosen in the sheet: the new screen takes focus (its heading), not the More button.
  const navigating = useRef(false);
  const moreList = useRef<HTMLUListElement>(null);

  // Any navigation (the back button too) closes the sheet.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on each change of pathname
  useEffect(() => setOpen(false), [pathname]);

  return (
    <>
      <nav aria-label="Main" className="nav-wide">
        <ul className="nav">
          {items.map((item) => (
            <li key={item.to}>
              <NavLink to={item.to} className="nav-link">
                {item.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <nav aria-label="Main" className="nav-tabs">
        <ul className="tabbar">
          {tabs.map((item) => (
            <li key={item.to}>
              <NavLink to={item.to} className="tab">
                <TabIcon>{ICONS[item.to]}</TabIcon>
                <span className="tab-label">{item.label}</span>
              </NavLink>
            </li>
          ))}
          <li>
            <Dialog.Root open={open} onOpenChange={setOpen}>
              <Dialog.Trigger className={current ? "tab active" : "tab"}>
                <TabIcon>
                  <path d="M4 6h16M4 12h16M4 18h16" />
                </TabIcon>
                <span className="tab-label">More</span>
                {current ? <span className="visually-hidden">, now showing {current.label}</span> : null}
              </Dialog.Trigger>
              <Dialog.Portal>
                <Dialog.Overlay className="dialog-overlay" />
                <Dialog.Content
                  className="more-sheet"
                  aria-describedby={undefined}
                  onOpenAutoFocus={(event) => {
                    // Focus starts on the current screen's link, else the first one (not on Close).
                    const list = moreList.current;
                    const link =
                      list?.querySelector<HTMLElement>(".more-link.active") ??
                      list?.querySelector<HTMLElement>(".more-link");
                    if (!link) return;
                    event.preventDefault();
                    link.focus();
                  }}
                  onCloseAutoFocus={(event) => {
                    if (navigating.current) event.preventDefault();
                    navigating.current = false;
                  }}
                >
                  <div className="more-sheet-head">
                    <Dialog.Title>More</Dialog.Title>
                    <Dialog.Close className="btn btn-secondary">Close</Dialog.Close>
                  </div>
                  <nav aria-label="More">
                    <ul className="more-list" ref={moreList}>
                      {more.map((item) => (
                        <li key={item.to}>
                          <NavLink
                            to={item.to}
                            className="more-link"
                            onClick={() => {
                              navigating.current = pathname !== item.to;
                              setOpen(false);
                            }}
                          >
                            {item.label}
                          </NavLink>
                        </li>
                      ))}
                    </ul>
                  </nav>
                </Dialog.Content>
              </Dialog.Portal>
            </Dialog.Root>
          </li>
        </ul>
      </nav>
    </>
  );
}
