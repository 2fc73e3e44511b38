import { Component, type ErrorInfo, type ReactNode } from "react";
import { ErrorView } from "./error-view.tsx";

/** Catches a screen's failure and shows it in sentences; the rest of the app keeps working. */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: undefined };
  static getDerivedStateFromError(error: unknown) {
    return { error };
  }
  override componentDidCatch(_error: unknown, _info: ErrorInfo) {
    // Nothing is logged: an error may carry request details, and the console is not private.
  }
  override render() {
    if (this.state.error !== undefined)
      return <ErrorView error={this.state.error} onRetry={() => this.setState({ error: undefined })} />;
    return this.props.children;
  }
}
