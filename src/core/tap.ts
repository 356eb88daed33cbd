/**
 * Watches an async iterable pass by: `onValue` sees each value, `onEnd` runs once when it is
 * done, fails, or is closed early. A plain iterator, not an async generator: every gRPC frame
 * crosses it, and a generator stage costs a resumption per frame.
 */
export function tap<T>(
  source: AsyncIterable<T>,
  onValue: (value: T) => void,
  onEnd: (error?: unknown) => void = () => {},
): AsyncIterableIterator<T> {
  const inner = source[Symbol.asyncIterator]();
  let ended = false;
  const end = (error?: unknown) => {
    if (ended) return;
    ended = true;
    onEnd(error);
  };
  const iterator: AsyncIterableIterator<T> = {
    next() {
      return inner.next().then(
        (result) => {
          if (result.done) end();
          else onValue(result.value);
          return result;
        },
        (err: unknown) => {
          end(err);
          throw err;
        },
      );
    },
    return(value?: unknown) {
      end();
      return inner.return
        ? inner.return(value)
        : Promise.resolve({ done: true, value: value as T });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
