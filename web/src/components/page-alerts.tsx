/** A page's last failure (an alert) and its last success (a status line), each with a test hook. */
export function PageAlerts({ error, notice, testId }: { error: string | null; notice: string | null; testId: string }) {
  return (
    <>
      {error ? (
        <div className="alert alert-danger" role="alert" data-testid={`${testId}-error`}>
          {error}
        </div>
      ) : null}
      {notice ? (
        <div className="alert alert-info" role="status" data-testid={`${testId}-notice`}>
          {notice}
        </div>
      ) : null}
    </>
  );
}
