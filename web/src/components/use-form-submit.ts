import { type FormEvent, useState } from "react";

/**
 * A form's submit: one at a time, and what went wrong (a check of the form or the server's
 * message) kept to show beside it.
 */
export function useFormSubmit(action: () => Promise<void>, failure: string) {
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  async function submit(event: FormEvent) {
    event.preventDefault();
    if (submitting) return;
    setError(null);
    setSubmitting(true);
    try {
      await action();
    } catch (caught) {
      setError(caught instanceof Error ? caught.message : failure);
    } finally {
      setSubmitting(false);
    }
  }
  return { submit, submitting, error };
}
