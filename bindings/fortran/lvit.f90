! Fortran interface to lvit (include/lvit.h) over ISO_C_BINDING: a climate model calls a trained
! lvit model in-process. Compile this file with your program and link liblvit (docs/api.md):
!     gfortran -c $(prefix)/share/lvit/fortran/lvit.f90 && gfortran prog.f90 lvit.o $(pkg-config --libs lvit)
!
! Fields are Fortran arrays x(W, H, V) -- longitude fastest, then latitude, then variable -- which
! is the C library's row-major [V][H][W] memory order. Variable indices are 1-based here.
! Every function returning an integer returns a status (LVIT_OK = 0); lvit_last_error() says why.
module lvit
  use, intrinsic :: iso_c_binding
  implicit none
  private

  integer, parameter, public :: LVIT_OK = 0, LVIT_E_IO = 1, LVIT_E_FORMAT = 2, LVIT_E_ARG = 3, &
                                LVIT_E_MEMORY = 4, LVIT_E_INTERNAL = 5

  type, public :: lvit_model
    type(c_ptr) :: ptr = c_null_ptr
  end type lvit_model

  ! The last shape refused by this module ('' none): sizes are checked by the C library, shapes
  ! (a transposed x(H, W, V) has the right size) only here. One per process, not per thread.
  character(:), allocatable, save :: shape_error

  type, bind(c) :: c_options
    integer(c_int) :: threads
    type(c_ptr) :: device
  end type c_options

  public :: lvit_open, lvit_close, lvit_last_error, lvit_forecast, lvit_task, lvit_num_inputs, &
            lvit_num_outputs, lvit_var_name, lvit_units, lvit_norm, lvit_grid, lvit_padded_grid, &
            lvit_lat, lvit_lon, lvit_patch_size, lvit_format_version, lvit_lead_divisor, lvit_downscale, &
            lvit_scale, lvit_num_classes, lvit_class_name, lvit_classify, lvit_segment

  interface
    function c_open(path, opts, out) bind(c, name='lvit_open') result(st)
      import :: c_char, c_options, c_ptr, c_int
      character(kind=c_char), dimension(*), intent(in) :: path
      type(c_options), intent(in) :: opts
      type(c_ptr), intent(out) :: out
      integer(c_int) :: st
    end function c_open
    subroutine c_close(m) bind(c, name='lvit_close')
      import :: c_ptr
      type(c_ptr), value :: m
    end subroutine c_close
    function c_last_error() bind(c, name='lvit_last_error') result(p)
      import :: c_ptr
      type(c_ptr) :: p
    end function c_last_error
    function c_task(m) bind(c, name='lvit_task') result(p)
      import :: c_ptr
      type(c_ptr), value :: m
      type(c_ptr) :: p
    end function c_task
    function c_count(m) bind(c, name='lvit_num_inputs') result(n)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int) :: n
    end function c_count
    function c_num_outputs(m) bind(c, name='lvit_num_outputs') result(n)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int) :: n
    end function c_num_outputs
    function c_patch(m) bind(c, name='lvit_patch_size') result(n)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int) :: n
    end function c_patch
    function c_format(m) bind(c, name='lvit_format_version') result(n)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int) :: n
    end function c_format
    function c_lead_divisor(m) bind(c, name='lvit_lead_divisor') result(d)
      import :: c_ptr, c_double
      type(c_ptr), value :: m
      real(c_double) :: d
    end function c_lead_divisor
    function c_var_name(m, i) bind(c, name='lvit_var_name') result(p)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int), value :: i
      type(c_ptr) :: p
    end function c_var_name
    function c_units(m, i) bind(c, name='lvit_units') result(p)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int), value :: i
      type(c_ptr) :: p
    end function c_units
    function c_norm(m, i, mean, std) bind(c, name='lvit_norm') result(st)
      import :: c_ptr, c_int, c_double
      type(c_ptr), value :: m
      integer(c_int), value :: i
      real(c_double), intent(out) :: mean, std
      integer(c_int) :: st
    end function c_norm
    function c_grid(m, h, w) bind(c, name='lvit_grid') result(st)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int), intent(out) :: h, w
      integer(c_int) :: st
    end function c_grid
    function c_padded_grid(m, h, w) bind(c, name='lvit_padded_grid') result(st)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int), intent(out) :: h, w
      integer(c_int) :: st
    end function c_padded_grid
    function c_lat(m) bind(c, name='lvit_lat') result(p)
      import :: c_ptr
      type(c_ptr), value :: m
      type(c_ptr) :: p
    end function c_lat
    function c_lon(m) bind(c, name='lvit_lon') result(p)
      import :: c_ptr
      type(c_ptr), value :: m
      type(c_ptr) :: p
    end function c_lon
    function c_forecast(m, x, nx, mask, nmask, lead, y, ny) bind(c, name='lvit_forecast_sized') result(st)
      import :: c_ptr, c_size_t, c_float, c_int
      type(c_ptr), value :: m, x, mask, y
      integer(c_size_t), value :: nx, nmask, ny
      real(c_float), value :: lead
      integer(c_int) :: st
    end function c_forecast
    function c_downscale(m, x, nx, mask, nmask, y, ny) bind(c, name='lvit_downscale_sized') result(st)
      import :: c_ptr, c_size_t, c_int
      type(c_ptr), value :: m, x, mask, y
      integer(c_size_t), value :: nx, nmask, ny
      integer(c_int) :: st
    end function c_downscale
    function c_num_classes(m) bind(c, name='lvit_num_classes') result(n)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int) :: n
    end function c_num_classes
    function c_class_name(m, k) bind(c, name='lvit_class_name') result(p)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int), value :: k
      type(c_ptr) :: p
    end function c_class_name
    function c_classify(m, x, nx, mask, nmask, y, ny) bind(c, name='lvit_classify_sized') result(st)
      import :: c_ptr, c_size_t, c_int
      type(c_ptr), value :: m, x, mask, y
      integer(c_size_t), value :: nx, nmask, ny
      integer(c_int) :: st
    end function c_classify
    function c_segment(m, x, nx, mask, nmask, y, ny) bind(c, name='lvit_segment_sized') result(st)
      import :: c_ptr, c_size_t, c_int
      type(c_ptr), value :: m, x, mask, y
      integer(c_size_t), value :: nx, nmask, ny
      integer(c_int) :: st
    end function c_segment
    function c_output_grid(m, h, w) bind(c, name='lvit_output_grid') result(st)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int), intent(out) :: h, w
      integer(c_int) :: st
    end function c_output_grid
    function c_scale(m) bind(c, name='lvit_scale') result(n)
      import :: c_ptr, c_int
      type(c_ptr), value :: m
      integer(c_int) :: n
    end function c_scale
    function c_strlen(s) bind(c, name='strlen') result(n)
      import :: c_ptr, c_size_t
      type(c_ptr), value :: s
      integer(c_size_t) :: n
    end function c_strlen
  end interface

contains

  ! A C string as a Fortran string ("" for NULL).
  function from_c(p) result(s)
    type(c_ptr), intent(in) :: p
    character(:), allocatable :: s
    character(kind=c_char), pointer :: chars(:)
    integer :: i, n
    if (.not. c_associated(p)) then
      s = ''
      return
    end if
    n = int(c_strlen(p))
    call c_f_pointer(p, chars, [n])
    allocate(character(n) :: s)
    do i = 1, n
      s(i:i) = chars(i)
    end do
  end function from_c

  ! Opens a checkpoint; threads: CPU threads per call (default 0: all cores).
  integer function lvit_open(path, model, threads) result(st)
    character(*), intent(in) :: path
    type(lvit_model), intent(out) :: model
    integer, intent(in), optional :: threads
    type(c_options) :: o
    o%threads = 0
    if (present(threads)) o%threads = int(threads, c_int)
    o%device = c_null_ptr
    shape_error = ''
    st = int(c_open(trim(path) // c_null_char, o, model%ptr))
  end function lvit_open

  subroutine lvit_close(model)
    type(lvit_model), intent(inout) :: model
    call c_close(model%ptr)
    model%ptr = c_null_ptr
  end subroutine lvit_close

  ! The message of this thread's last failure (a shape this module refused first).
  function lvit_last_error() result(msg)
    character(:), allocatable :: msg
    if (allocated(shape_error)) then
      if (len(shape_error) > 0) then
        msg = shape_error
        return
      end if
    end if
    msg = from_c(c_last_error())
  end function lvit_last_error

  ! (i, j, k) as text
  function shape_text(s) result(t)
    integer, intent(in) :: s(:)
    character(:), allocatable :: t
    character(16) :: b
    integer :: i
    t = '('
    do i = 1, size(s)
      write (b, '(I0)') s(i)
      t = t // trim(b)
      if (i < size(s)) t = t // ', '
    end do
    t = t // ')'
  end function shape_text

  ! .true. (and shape_error set) when array NAME of function FN has GOT's size but not the shape WANT,
  ! e.g. x(H, W, V) for x(W, H, V); other sizes are left to the C library's message.
  logical function bad_shape(fn, name, got, want, what)
    character(*), intent(in) :: fn, name, what
    integer, intent(in) :: got(:), want(:)
    bad_shape = product(got) == product(want) .and. any(got /= want)
    if (bad_shape) shape_error = fn // ': ' // name // ' has the shape ' // shape_text(got) // '; expected ' // &
                                 what // ' = ' // shape_text(want)
  end function bad_shape

  ! The input grid (h, w), the output grid (ho, wo), V and Vo of a model, for the shape checks.
  subroutine dims(model, h, w, ho, wo, v, vo)
    type(lvit_model), intent(in) :: model
    integer, intent(out) :: h, w, ho, wo, v, vo
    integer(c_int) :: a, b
    h = 0; w = 0; ho = 0; wo = 0
    shape_error = ''
    if (c_grid(model%ptr, a, b) == LVIT_OK) then
      h = int(a); w = int(b)
    end if
    if (c_output_grid(model%ptr, a, b) == LVIT_OK) then
      ho = int(a); wo = int(b)
    end if
    v = lvit_num_inputs(model)
    vo = lvit_num_outputs(model)
  end subroutine dims

  function lvit_task(model) result(s)
    type(lvit_model), intent(in) :: model
    character(:), allocatable :: s
    s = from_c(c_task(model%ptr))
  end function lvit_task

  integer function lvit_num_inputs(model)
    type(lvit_model), intent(in) :: model
    lvit_num_inputs = int(c_count(model%ptr))
  end function lvit_num_inputs

  integer function lvit_num_outputs(model)
    type(lvit_model), intent(in) :: model
    lvit_num_outputs = int(c_num_outputs(model%ptr))
  end function lvit_num_outputs

  integer function lvit_patch_size(model)
    type(lvit_model), intent(in) :: model
    lvit_patch_size = int(c_patch(model%ptr))
  end function lvit_patch_size

  integer function lvit_format_version(model)
    type(lvit_model), intent(in) :: model
    lvit_format_version = int(c_format(model%ptr))
  end function lvit_format_version

  ! The model's lead input is hours / this (100).
  real(c_double) function lvit_lead_divisor(model)
    type(lvit_model), intent(in) :: model
    lvit_lead_divisor = c_lead_divisor(model%ptr)
  end function lvit_lead_divisor

  ! Name and units of variable i (1-based; "" when out of range or not recorded).
  function lvit_var_name(model, i) result(s)
    type(lvit_model), intent(in) :: model
    integer, intent(in) :: i
    character(:), allocatable :: s
    s = from_c(c_var_name(model%ptr, int(i - 1, c_int)))
  end function lvit_var_name

  function lvit_units(model, i) result(s)
    type(lvit_model), intent(in) :: model
    integer, intent(in) :: i
    character(:), allocatable :: s
    s = from_c(c_units(model%ptr, int(i - 1, c_int)))
  end function lvit_units

  integer function lvit_norm(model, i, mean, std) result(st)
    type(lvit_model), intent(in) :: model
    integer, intent(in) :: i
    real(c_double), intent(out) :: mean, std
    st = int(c_norm(model%ptr, int(i - 1, c_int), mean, std))
  end function lvit_norm

  ! The unpadded data grid: h latitudes (rows) by w longitudes (columns).
  integer function lvit_grid(model, h, w) result(st)
    type(lvit_model), intent(in) :: model
    integer, intent(out) :: h, w
    integer(c_int) :: ch, cw
    st = int(c_grid(model%ptr, ch, cw))
    h = int(ch)
    w = int(cw)
  end function lvit_grid

  integer function lvit_padded_grid(model, h, w) result(st)
    type(lvit_model), intent(in) :: model
    integer, intent(out) :: h, w
    integer(c_int) :: ch, cw
    st = int(c_padded_grid(model%ptr, ch, cw))
    h = int(ch)
    w = int(cw)
  end function lvit_padded_grid

  ! Latitudes (degrees north) of the grid rows; not allocated when the checkpoint has none.
  subroutine lvit_lat(model, lat)
    type(lvit_model), intent(in) :: model
    real(c_double), allocatable, intent(out) :: lat(:)
    call coords(model, c_lat(model%ptr), .true., lat)
  end subroutine lvit_lat

  subroutine lvit_lon(model, lon)
    type(lvit_model), intent(in) :: model
    real(c_double), allocatable, intent(out) :: lon(:)
    call coords(model, c_lon(model%ptr), .false., lon)
  end subroutine lvit_lon

  subroutine coords(model, p, rows, out)
    type(lvit_model), intent(in) :: model
    type(c_ptr), intent(in) :: p
    logical, intent(in) :: rows
    real(c_double), allocatable, intent(out) :: out(:)
    real(c_double), pointer :: a(:)
    integer :: h, w, st
    if (.not. c_associated(p)) return
    st = lvit_grid(model, h, w)
    if (st /= LVIT_OK) return
    if (.not. rows) h = w
    call c_f_pointer(p, a, [h])
    out = a
  end subroutine coords

  ! Forecast: x(W, H, V) physical units, lead_hours > 0, y(W, H, Vo) out (NaN where mask is 0).
  ! mask(W, H, V): optional, 1 = observed, 0 = missing. Wrong array sizes give LVIT_E_ARG.
  integer function lvit_forecast(model, x, lead_hours, y, mask) result(st)
    type(lvit_model), intent(in) :: model
    real(c_float), intent(in), target, contiguous :: x(:, :, :)
    real, intent(in) :: lead_hours
    real(c_float), intent(out), target, contiguous :: y(:, :, :)
    integer(c_signed_char), intent(in), target, contiguous, optional :: mask(:, :, :)
    type(c_ptr) :: pm
    integer(c_size_t) :: nm
    integer :: h, w, ho, wo, v, vo
    call dims(model, h, w, ho, wo, v, vo)
    st = LVIT_E_ARG
    if (bad_shape('lvit_forecast', 'x', shape(x), [w, h, v], '(W, H, V)')) return
    if (bad_shape('lvit_forecast', 'y', shape(y), [wo, ho, vo], '(W, H, Vo)')) return
    if (present(mask)) then
      if (bad_shape('lvit_forecast', 'mask', shape(mask), [w, h, v], '(W, H, V)')) return
    end if
    call mask_arg(pm, nm, mask)
    st = int(c_forecast(model%ptr, c_loc(x), size(x, kind=c_size_t), pm, nm, real(lead_hours, c_float), &
                        c_loc(y), size(y, kind=c_size_t)))
  end function lvit_forecast

  ! The downscaling factor s (1 for forecasting models).
  integer function lvit_scale(model)
    type(lvit_model), intent(in) :: model
    lvit_scale = int(c_scale(model%ptr))
  end function lvit_scale

  ! Downscaling (task "downscale"): coarse(w, h, V) -- the Vo variables in physical units, then the
  ! static channels as the model saw them in training -- to fine(s w, s h, Vo); mask as lvit_forecast.
  integer function lvit_downscale(model, coarse, fine, mask) result(st)
    type(lvit_model), intent(in) :: model
    real(c_float), intent(in), target, contiguous :: coarse(:, :, :)
    real(c_float), intent(out), target, contiguous :: fine(:, :, :)
    integer(c_signed_char), intent(in), target, contiguous, optional :: mask(:, :, :)
    type(c_ptr) :: pm
    integer(c_size_t) :: nm
    integer :: h, w, ho, wo, v, vo
    call dims(model, h, w, ho, wo, v, vo)
    st = LVIT_E_ARG
    if (bad_shape('lvit_downscale', 'coarse', shape(coarse), [w, h, v], '(w, h, V)')) return
    if (bad_shape('lvit_downscale', 'fine', shape(fine), [wo, ho, vo], '(s w, s h, Vo)')) return
    call mask_arg(pm, nm, mask)
    st = int(c_downscale(model%ptr, c_loc(coarse), size(coarse, kind=c_size_t), pm, nm, c_loc(fine), &
                         size(fine, kind=c_size_t)))
  end function lvit_downscale

  ! Classes of an image model (task "classify" or "segment"; 0 for others).
  integer function lvit_num_classes(model)
    type(lvit_model), intent(in) :: model
    lvit_num_classes = int(c_num_classes(model%ptr))
  end function lvit_num_classes

  ! Name of class k (1-based, as lvit convert named it, e.g. "class_10"; "" when out of range).
  function lvit_class_name(model, k) result(s)
    type(lvit_model), intent(in) :: model
    integer, intent(in) :: k
    character(:), allocatable :: s
    s = from_c(c_class_name(model%ptr, int(k - 1, c_int)))
  end function lvit_class_name

  ! Classification (task "classify"): x(W, H, V) the bands of the window around the pixel (or the
  ! image), logits(K) out; mask as lvit_forecast.
  integer function lvit_classify(model, x, logits, mask) result(st)
    type(lvit_model), intent(in) :: model
    real(c_float), intent(in), target, contiguous :: x(:, :, :)
    real(c_float), intent(out), target, contiguous :: logits(:)
    integer(c_signed_char), intent(in), target, contiguous, optional :: mask(:, :, :)
    type(c_ptr) :: pm
    integer(c_size_t) :: nm
    integer :: h, w, ho, wo, v, vo
    call dims(model, h, w, ho, wo, v, vo)
    st = LVIT_E_ARG
    if (bad_shape('lvit_classify', 'x', shape(x), [w, h, v], '(W, H, V)')) return
    if (present(mask)) then
      if (bad_shape('lvit_classify', 'mask', shape(mask), [w, h, v], '(W, H, V)')) return
    end if
    call mask_arg(pm, nm, mask)
    st = int(c_classify(model%ptr, c_loc(x), size(x, kind=c_size_t), pm, nm, c_loc(logits), size(logits, kind=c_size_t)))
  end function lvit_classify

  ! Segmentation of one tile (task "segment"): x(W, H, V) bands, logits(W, H, K) out; mask as lvit_forecast.
  integer function lvit_segment(model, x, logits, mask) result(st)
    type(lvit_model), intent(in) :: model
    real(c_float), intent(in), target, contiguous :: x(:, :, :)
    real(c_float), intent(out), target, contiguous :: logits(:, :, :)
    integer(c_signed_char), intent(in), target, contiguous, optional :: mask(:, :, :)
    type(c_ptr) :: pm
    integer(c_size_t) :: nm
    integer :: h, w, ho, wo, v, vo
    call dims(model, h, w, ho, wo, v, vo)
    st = LVIT_E_ARG
    if (bad_shape('lvit_segment', 'x', shape(x), [w, h, v], '(W, H, V)')) return
    if (bad_shape('lvit_segment', 'logits', shape(logits), [w, h, lvit_num_classes(model)], '(W, H, K)')) return
    if (present(mask)) then
      if (bad_shape('lvit_segment', 'mask', shape(mask), [w, h, v], '(W, H, V)')) return
    end if
    call mask_arg(pm, nm, mask)
    st = int(c_segment(model%ptr, c_loc(x), size(x, kind=c_size_t), pm, nm, c_loc(logits), size(logits, kind=c_size_t)))
  end function lvit_segment

  ! The C library's mask pointer and length for an optional mask(W, H, V) argument (NULL and 0 without one).
  subroutine mask_arg(pm, nm, mask)
    type(c_ptr), intent(out) :: pm
    integer(c_size_t), intent(out) :: nm
    integer(c_signed_char), intent(in), target, contiguous, optional :: mask(:, :, :)
    pm = c_null_ptr
    nm = 0
    if (present(mask)) then
      pm = c_loc(mask)
      nm = size(mask, kind=c_size_t)
    end if
  end subroutine mask_arg

end module lvit
